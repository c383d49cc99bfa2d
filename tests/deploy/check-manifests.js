#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Checks what `kubectl kustomize deploy/kubernetes` builds (every document of
// FILE): each object against the Kubernetes schemas (kubernetes-models: its
// objects validate themselves), then what a node agent for Kata needs and
// what docs/operations.md promises of the DaemonSet:
//   - a Namespace, a ServiceAccount, a DaemonSet and a Service, all in one namespace;
//   - the DaemonSet only on Kata nodes (kata-deploy's label), tolerating
//     every NoSchedule and NoExecute taint, a node-critical priority,
//     privileged, in the host's pid and network namespaces, with requests and
//     limits of CPU and memory;
//   - its container mounting each host path the daemon uses at the same path;
//   - liveness on /healthz and readiness on /readyz of the metrics port its
//     --metrics-address names (no container port: it would be a hostPort),
//     and the collector from OTEL_EXPORTER_OTLP_ENDPOINT;
//   - upgrades by takeover: maxSurge 1, maxUnavailable 0, --takeover,
//     --after-handover=wait, the control socket's directory from the host;
//   - the Service selecting its pods, on that port, with scrape annotations.
//
//   check-manifests.js FILE
//
// Prints "ok:"/"FAILED:" lines and "N passed, N failed"; exits 1 on a failure.
'use strict';

const fs = require('fs');
const YAML = require('yaml');

const file = process.argv[2];
let passed = 0;
let failed = 0;
const check = (what, cond, detail) => {
	if (cond) passed++; else failed++;
	console.log(`  ${cond ? 'ok' : 'FAILED'}: ${what}${!cond && detail !== undefined ? `: ${detail}` : ''}`);
};

// kind -> the kubernetes-models class that validates it
const MODELS = {
	'v1/Namespace': () => require('kubernetes-models/v1').Namespace,
	'v1/ServiceAccount': () => require('kubernetes-models/v1').ServiceAccount,
	'v1/Service': () => require('kubernetes-models/v1').Service,
	'v1/ConfigMap': () => require('kubernetes-models/v1').ConfigMap,
	'apps/v1/DaemonSet': () => require('kubernetes-models/apps/v1').DaemonSet,
};

const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
for (const o of docs) {
	const what = `${o.kind} ${o.metadata && o.metadata.name}`;
	const Model = MODELS[`${o.apiVersion}/${o.kind}`];
	if (!Model) {
		check(`${what}: a kind this check knows (${o.apiVersion})`, false);
		continue;
	}
	let err;
	try {
		new (Model())(o).validate();
	} catch (e) {
		err = e.message.split('\n').slice(0, 3).join(' ');
	}
	check(`${what}: valid against the Kubernetes schema`, err === undefined, err);
}

const one = (kind) => docs.filter((o) => o.kind === kind);
for (const kind of ['Namespace', 'ServiceAccount', 'DaemonSet', 'Service'])
	check(`exactly one ${kind}`, one(kind).length === 1, `${one(kind).length}`);
const ns = (one('Namespace')[0] || { metadata: {} }).metadata.name;
check(`every namespaced object is in namespace ${ns}`,
	docs.every((o) => o.kind === 'Namespace' || (o.metadata && o.metadata.namespace === ns)));

const ds = one('DaemonSet')[0];
if (!ds) {
	console.log(`${passed} passed, ${failed + 1} failed`);
	process.exit(1);
}
const pod = ds.spec.template.spec;
const c = pod.containers[0] || {};
check('DaemonSet: only on Kata nodes (katacontainers.io/kata-runtime=true, set by kata-deploy)',
	pod.nodeSelector && pod.nodeSelector['katacontainers.io/kata-runtime'] === 'true', JSON.stringify(pod.nodeSelector));
const tolerates = (effect) => (pod.tolerations || []).some((t) => t.operator === 'Exists' && !t.key && t.effect === effect);
check('DaemonSet: tolerates every NoSchedule and NoExecute taint', tolerates('NoSchedule') && tolerates('NoExecute'),
	JSON.stringify(pod.tolerations));
check('DaemonSet: a node agent\'s priority (system-node-critical)', pod.priorityClassName === 'system-node-critical');
check('DaemonSet: the host\'s pid and network namespaces', pod.hostPID === true && pod.hostNetwork === true);
check('DaemonSet: its ServiceAccount exists', one('ServiceAccount').some((a) => a.metadata.name === pod.serviceAccountName));
check('DaemonSet: one container, privileged',
	pod.containers.length === 1 && c.securityContext && c.securityContext.privileged === true);
const res = c.resources || {};
check('DaemonSet: requests and limits of cpu and memory',
	['requests', 'limits'].every((k) => res[k] && res[k].cpu && res[k].memory), JSON.stringify(res));

// The host paths the daemon reads and binds in, each at its own path.
const HOST_PATHS = ['/sys/fs/bpf', '/sys/kernel/tracing', '/sys/kernel/btf', '/run/vc', '/run/kata', '/run/containerd',
	'/run/katatrace-bpf', '/var/lib/katatrace-bpf'];
const vols = new Map((pod.volumes || []).map((v) => [v.name, v]));
for (const p of HOST_PATHS) {
	const m = (c.volumeMounts || []).find((vm) => vm.mountPath === p);
	const v = m && vols.get(m.name);
	check(`DaemonSet: host ${p} mounted at ${p}`, v && v.hostPath && v.hostPath.path === p,
		m ? JSON.stringify(v) : 'not mounted');
}

const args = c.args || [];
// The disk spool is on, in a directory of the node (a hostPath mount), so
// that what waits for the collector outlives the pod.
const spoolArg = args.find((a) => a.startsWith('--spool-dir='));
const spoolDir = spoolArg ? spoolArg.slice('--spool-dir='.length) : args[args.indexOf('--spool-dir') + 1];
const spoolMount = spoolDir && (c.volumeMounts || []).find((vm) =>
	spoolDir === vm.mountPath || spoolDir.startsWith(`${vm.mountPath}/`));
check('DaemonSet: the disk spool is on (--spool-dir) in a host directory',
	!!spoolMount && !!(vols.get(spoolMount.name) || {}).hostPath, JSON.stringify(args));
const addr = (args.find((a) => a.startsWith('--metrics-address=')) || '').split('=')[1] ||
	args[args.indexOf('--metrics-address') + 1];
const port = addr ? Number(addr.split(':').pop()) : NaN;
check('DaemonSet: the daemon serves its metrics (--metrics-address HOST:PORT)', Number.isInteger(port) && port > 0,
	JSON.stringify(args));
// In the host's network namespace a declared container port is a hostPort
// (the API server makes it one), and a hostPort keeps the surge pod of an
// upgrade off the node the old pod is on.
check('DaemonSet: no container port declared (it would be a hostPort and block the surge pod)',
	!(c.ports || []).length, JSON.stringify(c.ports));
const probeOn = (pr, path) => pr && pr.httpGet && pr.httpGet.path === path && pr.httpGet.port === port;
// Upgrades take over (docs/takeover.md): the new pod beside the old one,
// asking its daemon for everything, the old one waiting to be stopped.
const ru = (ds.spec.updateStrategy || {}).rollingUpdate || {};
check('DaemonSet: rolling updates start the new pod beside the old one (maxSurge 1, maxUnavailable 0)',
	(ds.spec.updateStrategy || {}).type === 'RollingUpdate' && String(ru.maxSurge) === '1' &&
	String(ru.maxUnavailable) === '0', JSON.stringify(ds.spec.updateStrategy));
check('DaemonSet: the new daemon takes over from the old one (--takeover)', args.includes('--takeover'),
	JSON.stringify(args));
check('DaemonSet: a daemon taken over waits to be stopped (--after-handover=wait)',
	args.includes('--after-handover=wait') ||
	(args.includes('--after-handover') && args[args.indexOf('--after-handover') + 1] === 'wait'),
	JSON.stringify(args));
const ctlMount = (c.volumeMounts || []).find((vm) => vm.mountPath === '/run/katatrace-bpf');
check('DaemonSet: the control socket\'s directory is the host\'s (the two pods meet there)',
	!!ctlMount && !!(vols.get(ctlMount.name) || {}).hostPath);
check('DaemonSet: liveness on /healthz of the metrics port', probeOn(c.livenessProbe, '/healthz'));
check('DaemonSet: readiness on /readyz of the metrics port', probeOn(c.readinessProbe, '/readyz'));
check('DaemonSet: the collector from OTEL_EXPORTER_OTLP_ENDPOINT',
	(c.env || []).some((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT' && (e.value || e.valueFrom)));

const svc = one('Service')[0];
if (svc) {
	const labels = ds.spec.template.metadata.labels || {};
	const sel = svc.spec.selector || {};
	check('Service: selects the DaemonSet\'s pods', Object.keys(sel).length > 0 &&
		Object.entries(sel).every(([k, v]) => labels[k] === v));
	check(`Service: on the metrics port ${port}`, (svc.spec.ports || []).some((p) => p.port === port &&
		p.targetPort === port));
	const a = svc.metadata.annotations || {};
	check('Service: scrape annotations on that port', a['prometheus.io/scrape'] === 'true' &&
		Number(a['prometheus.io/port']) === port);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
