/** A dev.azure.com repository as an environment-create request names it. */
export function servicesRepository(organization: string, project: string, repository: string) {
  return { kind: 'services' as const, host: 'dev.azure.com', origin: 'https://dev.azure.com', organization, project, repository };
}
