// Test certificates made with the openssl CLI: a CA, a server certificate for
// 127.0.0.1 / localhost / ::1, and a client certificate, all signed by the CA.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface CertBundle {
  /** PEM text. */
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** File paths of the same PEMs (e.g. for CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY). */
  caPath: string;
  caKeyPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${err.trim()}`);
}

/** Creates the certificates in `dir` (created if missing) and returns their PEMs and paths. */
export async function makeCerts(dir: string): Promise<CertBundle> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const days = ["-days", "2"];
  await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", p("ca.key"), "-out", p("ca.pem"), ...days, "-subj", "/CN=Consul Emulator Test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);

  const leaf = async (name: string, cn: string, ext: string) => {
    await writeFile(p(`${name}.ext`), ext);
    await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", `/CN=${cn}`], dir);
    await openssl(["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
      "-CAcreateserial", "-out", p(`${name}.pem`), ...days, "-extfile", p(`${name}.ext`)], dir);
  };
  await leaf("server", "server.dc1.consul",
    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:server.dc1.consul\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
  await leaf("client", "client.dc1.consul", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");

  const read = (f: string) => readFile(p(f), "utf8");
  return {
    ca: await read("ca.pem"),
    caKey: await read("ca.key"),
    serverCert: await read("server.pem"),
    serverKey: await read("server.key"),
    clientCert: await read("client.pem"),
    clientKey: await read("client.key"),
    caPath: p("ca.pem"),
    caKeyPath: p("ca.key"),
    serverCertPath: p("server.pem"),
    serverKeyPath: p("server.key"),
    clientCertPath: p("client.pem"),
    clientKeyPath: p("client.key"),
  };
}
