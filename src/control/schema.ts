// Small building blocks for the control contract's TypeBox schemas.
import { Type } from 'typebox';
import type { TSchema } from 'typebox';

/** A value or null (JSON has no undefined: an absent value the other side must see travels as null). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A non-empty string: the ids and names a handler acts on. */
export const NonEmpty = () => Type.String({ minLength: 1 });
