import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import { ConfigError } from "../config/config-error.js";

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** TlsFiles name the PEM files sessiond serves TLS with. */
export interface TlsFiles {
  /** certFile is the certificate chain (--tls-cert). */
  certFile: string;
  /** keyFile is its private key (--tls-key). */
  keyFile: string;
  /** clientCaFile, when set, turns on mTLS: clients must present a certificate signed by it (--tls-client-ca). */
  clientCaFile?: string | undefined;
}

/** ReloadingCredentials are TLS server credentials whose files are read again when they change, or on reload(). */
export interface ReloadingCredentials {
  /** credentials go to the grpc-js server's bindAsync. */
  readonly credentials: ServerCredentials;
  /**
   * reload reads the files again now (SIGHUP); new connections use the new files, open ones go on. Files
   * that do not make a usable certificate, key and CA throw ConfigError and the ones in use stay.
   */
  reload(): void;
}

/**
 * createTlsCredentials makes TLS (or, with a client CA, mTLS) server credentials on grpc-js's
 * FileWatcherCertificateProvider: the files are read again every `refreshIntervalMs` (default 10000 ms)
 * and at once on `reload()`. The configured CA is always passed: grpc-js would trust the public roots for
 * client certificates otherwise. The files are checked once first (readable, key matching certificate),
 * so a mistake stops the start with a ConfigError instead of dropping every connection.
 */
export function createTlsCredentials(files: TlsFiles, refreshIntervalMs = 10_000): ReloadingCredentials {
  checkFiles(files);
  const identity = new ReloadingProvider(() => ({
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    refreshIntervalMs,
  }));
  const ca =
    files.clientCaFile === undefined
      ? null
      : new ReloadingProvider(() => ({ caCertificateFile: files.clientCaFile, refreshIntervalMs }));
  // grpc-js names its first parameter caCertificateProvider but uses it as the identity provider.
  const credentials = experimental.createCertificateProviderServerCredentials(identity, ca, ca !== null);
  return {
    credentials,
    reload() {
      checkFiles(files); // a broken file throws here, and the certificates in use stay
      identity.reload();
      ca?.reload();
    },
  };
}

function checkFiles(files: TlsFiles): void {
  const read = (path: string, flag: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${flag} ${path}: cannot read it: ${(err as Error).message}`);
    }
  };
  const cert = read(files.certFile, "--tls-cert");
  const key = read(files.keyFile, "--tls-key");
  const ca = files.clientCaFile === undefined ? undefined : read(files.clientCaFile, "--tls-client-ca");
  try {
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (err) {
    throw new ConfigError(
      `--tls-cert, --tls-key, --tls-client-ca: not a usable PEM certificate, key and CA: ${(err as Error).message}`,
    );
  }
}

/**
 * ReloadingProvider (internal) is a CertificateProvider in front of a FileWatcherCertificateProvider:
 * reload() swaps in a fresh watcher, which reads the files at once, and moves the listeners over.
 */
class ReloadingProvider implements CertificateProvider {
  private watcher: CertificateProvider;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private readonly config: () => experimental.FileWatcherCertificateProviderConfig) {
    this.watcher = new experimental.FileWatcherCertificateProvider(config());
  }

  reload(): void {
    const old = this.watcher;
    this.watcher = new experimental.FileWatcherCertificateProvider(this.config());
    for (const l of this.caListeners) this.watcher.addCaCertificateListener(l);
    for (const l of this.identityListeners) this.watcher.addIdentityCertificateListener(l);
    for (const l of this.caListeners) old.removeCaCertificateListener(l);
    for (const l of this.identityListeners) old.removeIdentityCertificateListener(l);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.watcher.addCaCertificateListener(listener);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.watcher.removeCaCertificateListener(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.watcher.addIdentityCertificateListener(listener);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.watcher.removeIdentityCertificateListener(listener);
  }
}

/**
 * credentialsLoaded resolves once secure server credentials have a certificate to serve (at once for
 * plaintext, or credentials made from buffers): grpc-js drops connections to a server whose certificate
 * provider has not delivered its first read yet, so `listen` waits for it. Rejects after timeoutMs.
 */
export function credentialsLoaded(credentials: ServerCredentials, timeoutMs = 10_000): Promise<void> {
  if (!credentials._isSecure() || credentials._getSecureContextOptions() !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const watcher = (options: unknown) => {
      if (options === null) return;
      clearTimeout(timer);
      credentials._removeWatcher(watcher);
      resolve();
    };
    const timer = setTimeout(() => {
      credentials._removeWatcher(watcher);
      reject(new Error(`the TLS certificate files were not loaded within ${timeoutMs} ms`));
    }, timeoutMs);
    credentials._addWatcher(watcher);
  });
}
