// Validates every object of rendered Kubernetes manifests (multi-document YAML files) against the JSON schemas that
// kubernetes-models (Kubernetes' own OpenAPI, compiled to ajv validators) and @kubernetes-models/prometheus-operator
// (the ServiceMonitor CRD's schema) bundle. Offline: the schemas come with the npm packages.
// An object whose kind has no bundled schema fails, so nothing passes unchecked.
//
// Kubernetes' schemas allow unknown fields (the API server drops or rejects them only at apply time), so a typo such
// as "readinesProbe" would pass them. unknownFields() closes that gap with the same validators: it replaces one field
// at a time with a value no schema type accepts; a field the schema knows then reports an error at its own path, a
// field it does not know reports none.
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

function errorsOf(Model, object) {
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return error.errors ?? [{ instancePath: "", message: error.message }];
  }
}

function* fieldPaths(node, path) {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      yield* fieldPaths(node[i], [...path, i]);
    }
  } else if (node !== null && typeof node === "object") {
    for (const key of Object.keys(node)) {
      yield [...path, key];
      yield* fieldPaths(node[key], [...path, key]);
    }
  }
}

function unknownFields(Model, object) {
  const unknown = [];
  for (const path of fieldPaths(object, [])) {
    if (typeof path.at(-1) !== "string") {
      continue;
    }

    const probe = structuredClone(object);
    const parent = path.slice(0, -1).reduce((node, key) => node[key], probe);
    parent[path.at(-1)] = Symbol("no schema type accepts this");
    // ajv reports JSON Pointers, where a key's "~" and "/" (as in app.kubernetes.io/name) are escaped.
    const at = path.map(key => "/" + String(key).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
    if (!errorsOf(Model, probe).some(e => e.instancePath === at || e.instancePath.startsWith(at + "/"))) {
      unknown.push(at);
    }
  }

  return unknown;
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

    const errors = errorsOf(Model, object);
    const unknown = errors.length === 0 ? unknownFields(Model, object) : [];
    if (errors.length > 0) {
      console.log(`FAIL ${name}: ${errors.map(e => `data${e.instancePath} ${e.message}`).join(", ")}`);
      failures++;
    } else if (unknown.length > 0) {
      console.log(`FAIL ${name}: fields the schema does not know (a typo, or newer than these schemas): ${unknown.join(", ")}`);
      failures++;
    } else {
      console.log(`ok   ${name}`);
    }
  }
}

console.log(`${checked - failures} of ${checked} objects valid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
