// A module's routes share their OpenAPI tag and the error answers they may give; each route names
// only what is its own (summary, inputs, success answers). The returned object keeps the TypeBox
// types of its parts, so the type provider still types each handler's request and reply.
import type { TSchema } from 'typebox';

/** What one route's schema says besides its module's tag and errors. */
export interface RouteSchemaParts {
  description?: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  produces?: string[];
  hide?: boolean;
  /** Success answers by status; the module's error answers are added. */
  response: Record<number, TSchema>;
}

export type RouteSchema<S extends RouteSchemaParts, E> = Omit<S, 'response'> & {
  tags: string[];
  summary: string;
  response: S['response'] & E;
};

/** The schema builder of a module whose routes are tagged `tag` and may answer `errors`. */
export function routeSchemas<const E extends Record<number, TSchema>>(tag: string, errors: E) {
  const tags = [tag];
  return <const S extends RouteSchemaParts>(summary: string, parts: S): RouteSchema<S, E> => ({
    tags,
    summary,
    ...parts,
    response: { ...parts.response, ...errors },
  });
}
