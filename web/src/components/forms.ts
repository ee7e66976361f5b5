import { useEffect, useRef, useState } from 'react';
import type { RefObject } from 'react';
import { ApiError, messageOf } from '../api.ts';
import { sentence } from '../text.ts';

/** What a form shows: one message at the top, and messages next to named fields. */
export interface FormErrors {
  form?: string | undefined;
  fields: Record<string, string>;
}

export const NO_ERRORS: FormErrors = { fields: {} };

/**
 * What ties a field to its piece of state and to the form's errors: its name, its value, a change
 * handler that sets the new value, and the message for it under the same name.
 */
export function bindField(errors: FormErrors, name: string, value: string, setValue: (value: string) => void) {
  return {
    name,
    value,
    onChange: (event: { target: { value: string } }) => setValue(event.target.value),
    error: errors.fields[name],
  };
}

export function hasErrors(errors: FormErrors): boolean {
  return Boolean(errors.form) || Object.keys(errors.fields).length > 0;
}

/**
 * Turns a failed call into form errors. `fieldMap` maps the API's `field` (a dotted body path such
 * as `oauth.clientId`) to the form's field key; an unmapped field falls back to its nearest mapped
 * parent (`oauth`), then to the top of the form.
 */
export function formErrorsFrom(err: unknown, fieldMap: Record<string, string> = {}): FormErrors {
  if (err instanceof ApiError && err.field) {
    const parts = err.field.split('.');
    while (parts.length > 0) {
      const key = fieldMap[parts.join('.')];
      if (key) return { fields: { [key]: err.message } };
      parts.pop();
    }
  }
  return { form: messageOf(err), fields: {} };
}

/** The same errors with every message made a sentence (the API's start in lower case). */
export function asSentences(errors: FormErrors): FormErrors {
  const fields: Record<string, string> = {};
  for (const [key, message] of Object.entries(errors.fields)) fields[key] = sentence(message);
  return { ...(errors.form ? { form: sentence(errors.form) } : {}), fields };
}

/** After a failed submit, move focus to the first field marked invalid so it is read out and fixable. */
export function useFocusFirstError(formRef: RefObject<HTMLElement | null>, errors: FormErrors): void {
  useEffect(() => {
    if (Object.keys(errors.fields).length === 0) return;
    formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [errors, formRef]);
}

/** A form's errors, and the ref its <form> takes so that focus goes to the first invalid field. */
export function useFormErrors() {
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstError(formRef, errors);
  return { errors, setErrors, formRef };
}

/**
 * A form that submits one call: its errors (as useFormErrors), whether it is busy, and `attempt`,
 * which runs the call with the form busy and its errors cleared, and shows a failure through
 * `toErrors` (the form's mapping of the API's fields). With `untilGone`, for a call whose success
 * takes the form away (a redirect, a navigation, a dialog that closes), the form stays busy after
 * a success so it cannot be sent twice while it goes.
 */
export function useSubmission() {
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState(false);
  async function attempt(
    call: () => Promise<void>,
    toErrors: (err: unknown) => FormErrors,
    { untilGone = false }: { untilGone?: boolean } = {},
  ): Promise<void> {
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      await call();
      if (!untilGone) setBusy(false);
    } catch (err) {
      setErrors(toErrors(err));
      setBusy(false);
    }
  }
  return { errors, setErrors, formRef, busy, attempt };
}

/**
 * What a create form made that is shown only once (a token, an invitation link) in the form's
 * place: `show` it (and run `onShow`: clear the page's notice, reload the list), `dismiss` it to
 * bring the form back, and `refocus` tells the form, back after a dismissal, to focus its first field.
 */
export function useShownOnce<T>(onShow: () => void) {
  const [shown, setShown] = useState<T>();
  const [refocus, setRefocus] = useState(false);
  return {
    shown,
    refocus,
    show: (created: T) => {
      setShown(created);
      onShow();
    },
    dismiss: () => {
      setShown(undefined);
      setRefocus(true);
    },
  };
}
