// Certificates made by the tests with the openssl CLI, in a fresh temporary folder: never committed keys.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** CertificateAuthority is a test CA: its certificate and key files, and a way to sign leaf certificates. */
export interface CertificateAuthority {
  readonly certFile: string;
  readonly keyFile: string;
  /** pem is the CA certificate's PEM text. */
  readonly pem: Buffer;
  /** issue signs a leaf certificate (server and client use) with the given subject CN and SANs. */
  issue(name: string, subject: { cn: string; dns?: string[]; uris?: string[]; ips?: string[] }): Leaf;
}

/** Leaf is a certificate signed by a test CA, with its private key. */
export interface Leaf {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

const dir = mkdtempSync(join(tmpdir(), "sessiond-certs-"));

// openssl runs one openssl command; arguments are split on spaces (the temporary paths have none).
function openssl(command: string): void {
  execFileSync("openssl", command.split(" "), { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** createCertificateAuthority makes a self-signed P-256 CA named `name`, valid for a day. */
export function createCertificateAuthority(name: string): CertificateAuthority {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  openssl(
    `req -x509 ${ec} -keyout ${keyFile} -out ${certFile} -days 1 -subj /CN=${name} ` +
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
  );
  return {
    certFile,
    keyFile,
    pem: readFileSync(certFile),
    issue(leafName, subject) {
      const leafCert = join(dir, `${leafName}.pem`);
      const leafKey = join(dir, `${leafName}-key.pem`);
      const csr = join(dir, `${leafName}.csr`);
      const ext = join(dir, `${leafName}.ext`);
      const sans = [
        ...(subject.dns ?? []).map((d) => `DNS:${d}`),
        ...(subject.uris ?? []).map((u) => `URI:${u}`),
        ...(subject.ips ?? []).map((i) => `IP:${i}`),
      ];
      writeFileSync(
        ext,
        [
          "basicConstraints=CA:FALSE",
          "extendedKeyUsage=serverAuth,clientAuth",
          ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
        ].join("\n"),
      );
      openssl(`req ${ec} -keyout ${leafKey} -out ${csr} -subj /CN=${subject.cn}`);
      openssl(`x509 -req -in ${csr} -CA ${certFile} -CAkey ${keyFile} -CAcreateserial -out ${leafCert} -days 1 -extfile ${ext}`);
      return { certFile: leafCert, keyFile: leafKey, cert: readFileSync(leafCert), key: readFileSync(leafKey) };
    },
  };
}

/** serverCertificate issues the certificate of a server reached as 127.0.0.1 or localhost. */
export function serverCertificate(ca: CertificateAuthority, name: string): Leaf {
  return ca.issue(name, { cn: "sessiond", dns: ["localhost"], ips: ["127.0.0.1"] });
}
