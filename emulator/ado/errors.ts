// Azure DevOps error bodies: {"$id":"1","innerException":null,"message":"TF…","typeName":"…","typeKey":"…","errorCode":0,"eventId":3000}
// Messages below are the service's own wording where docs/azure-devops.md or public reports give it;
// the ones marked "unconfirmed" are plausible stand-ins that tests should not pin byte for byte.

export interface AdoErrorBody {
  $id: '1';
  innerException: null;
  message: string;
  typeName: string;
  typeKey: string;
  errorCode: number;
  eventId: number;
}

export class AdoError extends Error {
  readonly status: number;
  readonly typeKey: string;
  readonly typeName: string;
  readonly headers: Record<string, string | string[]>;
  constructor(
    status: number,
    message: string,
    typeKey: string,
    opts: { typeName?: string; headers?: Record<string, string | string[]> } = {},
  ) {
    super(message);
    this.name = 'AdoError';
    this.status = status;
    this.typeKey = typeKey;
    this.typeName = opts.typeName ?? defaultTypeName(typeKey);
    this.headers = opts.headers ?? {};
  }

  body(): AdoErrorBody {
    return adoErrorBody(this.message, this.typeKey, this.typeName);
  }
}

function defaultTypeName(typeKey: string): string {
  if (typeKey.startsWith('Vss')) {
    return `Microsoft.VisualStudio.Services.WebApi.${typeKey}, Microsoft.VisualStudio.Services.WebApi`;
  }
  if (typeKey.startsWith('Git')) {
    return `Microsoft.TeamFoundation.Git.Server.${typeKey}, Microsoft.TeamFoundation.Git.Server`;
  }
  if (typeKey.startsWith('Project')) {
    return `Microsoft.TeamFoundation.Core.WebApi.${typeKey}, Microsoft.TeamFoundation.Core.WebApi`;
  }
  if (typeKey.startsWith('VariableGroup') || typeKey.startsWith('TaskAgent')) {
    return `Microsoft.TeamFoundation.DistributedTask.WebApi.${typeKey}, Microsoft.TeamFoundation.DistributedTask.WebApi`;
  }
  if (typeKey.endsWith('ArgumentException') || typeKey === 'ArgumentNullException' || typeKey === 'InvalidOperationException') {
    return `System.${typeKey}, mscorlib`;
  }
  return `Microsoft.TeamFoundation.Framework.Server.${typeKey}, Microsoft.TeamFoundation.Framework.Server`;
}

export function adoErrorBody(message: string, typeKey: string, typeName?: string): AdoErrorBody {
  return {
    $id: '1',
    innerException: null,
    message,
    typeName: typeName ?? defaultTypeName(typeKey),
    typeKey,
    errorCode: 0,
    eventId: 3000,
  };
}

export const errors = {
  anonymous(): AdoError {
    return new AdoError(
      401,
      'TF400813: Resource not available for anonymous access. Client authentication required.',
      'UnauthorizedRequestException',
    );
  },
  notAuthorized(who: string): AdoError {
    return new AdoError(401, `TF400813: The user '${who}' is not authorized to access this resource.`, 'UnauthorizedRequestException');
  },
  projectNotFound(nameOrId: string, byId: boolean): AdoError {
    return byId
      ? new AdoError(
          404,
          `VS800075: The project with id 'vstfs:///Classification/TeamProject/${nameOrId}' does not exist, or you do not have permission to access it.`,
          'ProjectDoesNotExistException',
        )
      : new AdoError(
          404,
          `TF200016: The following project does not exist: ${nameOrId}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.`,
          'ProjectDoesNotExistWithNameException',
        );
  },
  repositoryNotFound(nameOrId: string): AdoError {
    return new AdoError(
      404,
      `TF401019: The Git repository with name or identifier ${nameOrId} does not exist or you do not have permissions for the operation you are attempting.`,
      'GitRepositoryNotFoundException',
    );
  },
  pullRequestNotFound(): AdoError {
    return new AdoError(404, 'TF401180: The requested pull request was not found.', 'GitPullRequestNotFoundException');
  },
  unresolvableVersion(descriptor: string, repoName: string): AdoError {
    return new AdoError(
      404,
      `TF401175: The version descriptor ${descriptor} could not be resolved to a version in the repository ${repoName}`,
      'GitUnresolvableToCommitException',
    );
  },
  commitNotFound(sha: string, repoName: string): AdoError {
    // Unconfirmed wording; the service answers 404 for an unknown commit id.
    return new AdoError(
      404,
      `TF401175: The version descriptor <Commit: ${sha} > could not be resolved to a version in the repository ${repoName}`,
      'GitUnresolvableToCommitException',
    );
  },
  itemNotFound(path: string, repoName: string, descriptor: string, sha: string): AdoError {
    return new AdoError(
      404,
      `TF401174: The item '${path}' could not be found in the repository '${repoName}' at the version specified by '${descriptor}' (resolved to commit '${sha}').`,
      'GitItemNotFoundException',
    );
  },
  badRequest(message: string, typeKey = 'ArgumentException'): AdoError {
    return new AdoError(400, message, typeKey);
  },
  notFound(message: string, typeKey: string): AdoError {
    return new AdoError(404, message, typeKey);
  },
  internal(activityId: string): AdoError {
    return new AdoError(500, `TF400898: An Internal Error Occurred. Activity Id: ${activityId}.`, 'InternalServerErrorException');
  },
};
