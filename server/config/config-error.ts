/**
 * ConfigError is a setting that cannot work; main prints it with the usage and exits 2. It lives alone so
 * that modules settings.ts reads defaults from (server/grpc, server/access) can throw it without an import
 * cycle.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}
