// Validates every object of rendered Kubernetes manifests (multi-document YAML files) against the JSON schemas that
// kubernetes-models (Kubernetes' own OpenAPI, compiled to ajv validators) and @kubernetes-models/prometheus-operator
// (the ServiceMonitor CRD's schema) bundle. Offline: the schemas come with the npm packages.
// An object whose kind has no bundled schema fails, so nothing passes unchecked.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const modules = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com",
};

async function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const prefix = modules[group] ?? (group === "" ? "kubernetes-models" : `kubernetes-models/${group}`);
  const specifier = `${prefix}/${version}/${kind}`;
  try {
    return (await import(specifier))[kind];
  } catch (error) {
    if (error.code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || error.code === "ERR_MODULE_NOT_FOUND") {
      return undefined;
    }
    throw error;
  }
}

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  for (const document of documents) {
    if (document.errors.length > 0) {
      console.log(`FAIL ${file}: not valid YAML: ${document.errors[0].message}`);
      failures++;
      continue;
    }

    const object = document.toJS();
    if (object === null) {
      continue;
    }

    const name = `${file}: ${object.apiVersion}/${object.kind} ${object.metadata?.namespace ?? "-"}/${object.metadata?.name}`;
    const Model = await modelFor(object.apiVersion ?? "", object.kind ?? "");
    checked++;
    if (Model === undefined) {
      console.log(`FAIL ${name}: no bundled schema for this apiVersion and kind`);
      failures++;
      continue;
    }

    try {
      new Model(object).validate();
      console.log(`ok   ${name}`);
    } catch (error) {
      console.log(`FAIL ${name}: ${error.message}`);
      failures++;
    }
  }
}

console.log(`${checked - failures} of ${checked} objects valid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
