import type { FastifyReply } from 'fastify';
import { sessionCookieName } from './authenticate.ts';
import type { NewSession } from './service.ts';

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure and `__Host-` over https. */
export function setSessionCookie(reply: FastifyReply, session: Pick<NewSession, 'token' | 'maxAgeSeconds'>, secure: boolean): void {
  void reply.setCookie(sessionCookieName(secure), session.token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    maxAge: session.maxAgeSeconds,
  });
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  void reply.clearCookie(sessionCookieName(secure), { path: '/', httpOnly: true, sameSite: 'lax', secure });
}
