/** Publishing defaults the CLI shows in --help without loading the registries. */
export const DEFAULT_BATCH_SIZE = 20;
