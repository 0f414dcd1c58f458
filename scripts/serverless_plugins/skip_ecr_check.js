'use strict';

// `serverless remove` asks ECR whether the service has an image repository, even when it
// defines no container images; LocalStack's community edition does not emulate ECR, so that
// question fails the removal after the stack is already gone. A service without
// `provider.ecr.images` has no repository: answer "no" without asking.
class SkipEcrCheckWithoutImages {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:remove:remove': () => this.skipCheck() };
  }

  skipCheck() {
    const ecr = this.serverless.service.provider.ecr;
    if (ecr && ecr.images) return;
    for (const plugin of this.serverless.pluginManager.plugins) {
      if (typeof plugin.checkIfEcrRepositoryExists === 'function') {
        plugin.checkIfEcrRepositoryExists = async () => false;
      }
    }
  }
}

module.exports = SkipEcrCheckWithoutImages;
