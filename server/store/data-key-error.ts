/**
 * DataKeyError says a key file cannot be used (naming the file and line, never quoting the secret), or that
 * libsodium cannot load on this platform. It lives alone so that the key file and the sodium loader can
 * both throw it without an import cycle; config and main turn it into a ConfigError (exit 2).
 */
export class DataKeyError extends Error {
  override name = "DataKeyError";
}
