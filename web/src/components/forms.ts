import { useEffect } from 'react';
import type { RefObject } from 'react';
import { ApiError, messageOf } from '../api.ts';

/** What a form shows: one message at the top, and messages next to named fields. */
export interface FormErrors {
  form?: string | undefined;
  fields: Record<string, string>;
}

export const NO_ERRORS: FormErrors = { fields: {} };

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

/** After a failed submit, move focus to the first field marked invalid so it is read out and fixable. */
export function useFocusFirstError(formRef: RefObject<HTMLElement | null>, errors: FormErrors): void {
  useEffect(() => {
    if (Object.keys(errors.fields).length === 0) return;
    formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [errors, formRef]);
}

