#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// What a kubelet would do with the DaemonSet's pod, said as `podman run`
// arguments: the container runs here with the manifest's own settings, not
// with flags written beside it. From what `kubectl kustomize deploy/kubernetes`
// builds (FILE), the DaemonSet's one container:
//   hostPID, hostNetwork              --pid=host, --network=host
//   securityContext                   --privileged, --user, --read-only,
//                                     --cap-add/--cap-drop
//   resources                         --memory, --memory-reservation, --cpus
//   env (literal values)              --env NAME=VALUE
//   volumeMounts of hostPath volumes  --volume HOST:PATH[:ro][,rslave|rshared]
//                                     (mountPropagation HostToContainer,
//                                     Bidirectional); a DirectoryOrCreate path
//                                     is created as the kubelet would, a
//                                     Directory must exist
//   terminationGracePeriodSeconds     --stop-timeout
//   image, command, args              IMAGE, --entrypoint, the arguments
// Fields that only place the pod (nodeSelector, tolerations, priority, the
// service account, dnsPolicy, ports, probes) are read and need no flag; any
// other field of the pod or container is an error, so that nothing the
// manifest says is silently left out of the run.
//
// Test-side changes, each named:
//   --relocate PREFIX=DIR   a hostPath under PREFIX is DIR followed by that path
//                           (the node's state under a fake root), mounted at
//                           the manifest's mountPath all the same
//   --env NAME=VALUE        another value for an env variable the manifest sets
//                           (an error if it sets none)
//   --name NAME             the container's name
// Output: one argument per line, for `mapfile -t`. With --probe
// readiness|liveness, the probe's URL instead (host network: 127.0.0.1 and the
// container port the probe names).
//
//   daemonset-to-podman.js [--relocate P=DIR]... [--env N=V]... [--name N] [--probe KIND] FILE
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const die = (msg) => {
	process.stderr.write(`daemonset-to-podman: ${msg}\n`);
	process.exit(1);
};

const relocate = [];
const envOverride = new Map();
let name = null;
let probe = null;
let file = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	const val = () => {
		if (i + 1 >= argv.length) die(`${a} needs a value`);
		return argv[++i];
	};
	if (a === '--relocate') {
		const v = val();
		const eq = v.indexOf('=');
		if (eq <= 0 || !v.startsWith('/')) die(`--relocate ${v}: not PREFIX=DIR`);
		relocate.push([v.slice(0, eq).replace(/\/$/, ''), v.slice(eq + 1)]);
	} else if (a === '--env') {
		const v = val();
		const eq = v.indexOf('=');
		if (eq <= 0) die(`--env ${v}: not NAME=VALUE`);
		envOverride.set(v.slice(0, eq), v.slice(eq + 1));
	} else if (a === '--name') name = val();
	else if (a === '--probe') {
		probe = val();
		if (probe !== 'readiness' && probe !== 'liveness') die(`--probe ${probe}: readiness or liveness`);
	} else if (a.startsWith('-')) die(`unknown option ${a}`);
	else if (file === null) file = a;
	else die(`one FILE only (${a})`);
}
if (file === null) die('which FILE? (kubectl kustomize deploy/kubernetes > FILE)');

const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJSON()).filter(Boolean);
const sets = docs.filter((d) => d.kind === 'DaemonSet');
if (sets.length !== 1) die(`${file}: ${sets.length} DaemonSets, expected one`);
const ds = sets[0];
const pod = ds.spec.template.spec;
if (!pod.containers || pod.containers.length !== 1) die('the DaemonSet\'s pod must have one container');
if (pod.initContainers && pod.initContainers.length) die('initContainers: not translated');
const ctr = pod.containers[0];

// What each level may say; nothing else goes unnoticed.
const PLACEMENT = ['nodeSelector', 'tolerations', 'priorityClassName', 'serviceAccountName',
	'automountServiceAccountToken', 'dnsPolicy', 'affinity'];
const POD_FIELDS = new Set([...PLACEMENT, 'hostPID', 'hostNetwork', 'containers', 'volumes',
	'terminationGracePeriodSeconds']);
const CTR_FIELDS = new Set(['name', 'image', 'imagePullPolicy', 'command', 'args', 'env', 'ports',
	'livenessProbe', 'readinessProbe', 'startupProbe', 'resources', 'securityContext', 'volumeMounts']);
for (const k of Object.keys(pod)) if (!POD_FIELDS.has(k)) die(`pod spec field ${k}: not translated`);
for (const k of Object.keys(ctr)) if (!CTR_FIELDS.has(k)) die(`container field ${k}: not translated`);

const one = (s, what) => {
	if (/[\n\0]/.test(String(s))) die(`${what}: a newline or NUL cannot be passed`);
	return String(s);
};

if (probe) {
	const p = ctr[`${probe}Probe`];
	if (!p || !p.httpGet) die(`the container has no ${probe} probe with httpGet`);
	let port = p.httpGet.port;
	if (typeof port === 'string') {
		const named = (ctr.ports || []).find((x) => x.name === port);
		if (!named) die(`the ${probe} probe names port ${port}, which the container does not have`);
		port = named.containerPort;
	}
	if (!pod.hostNetwork) die('probe URLs are given for a pod in the host\'s network only');
	console.log(`${(p.httpGet.scheme || 'HTTP').toLowerCase()}://127.0.0.1:${port}${p.httpGet.path || '/'}`);
	process.exit(0);
}

// Kubernetes quantities: "384Mi" -> bytes; "1", "500m" -> CPUs.
const bytes = (q) => {
	const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
	if (!m) die(`memory quantity ${q}: not understood`);
	const mult = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
	return String(Math.round(Number(m[1]) * (m[2] ? mult[m[2]] : 1)));
};
const cpus = (q) => {
	const m = /^([0-9.]+)(m)?$/.exec(String(q));
	if (!m) die(`cpu quantity ${q}: not understood`);
	return String(m[2] ? Number(m[1]) / 1000 : Number(m[1]));
};

const out = [];
if (name) out.push(`--name=${one(name, '--name')}`);
if (pod.hostPID) out.push('--pid=host');
if (pod.hostNetwork) out.push('--network=host');
if (pod.terminationGracePeriodSeconds !== undefined)
	out.push(`--stop-timeout=${pod.terminationGracePeriodSeconds}`);

const sc = ctr.securityContext || {};
const SC_FIELDS = new Set(['privileged', 'runAsUser', 'runAsGroup', 'readOnlyRootFilesystem', 'capabilities',
	'allowPrivilegeEscalation']);
for (const k of Object.keys(sc)) if (!SC_FIELDS.has(k)) die(`securityContext.${k}: not translated`);
if (sc.privileged) out.push('--privileged');
if (sc.runAsUser !== undefined)
	out.push(`--user=${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}`);
if (sc.readOnlyRootFilesystem) out.push('--read-only');
if (sc.allowPrivilegeEscalation === false) out.push('--security-opt=no-new-privileges');
for (const c of (sc.capabilities && sc.capabilities.add) || []) out.push(`--cap-add=${one(c, 'capability')}`);
for (const c of (sc.capabilities && sc.capabilities.drop) || []) out.push(`--cap-drop=${one(c, 'capability')}`);

const res = ctr.resources || {};
if (res.limits && res.limits.memory) out.push(`--memory=${bytes(res.limits.memory)}`);
if (res.requests && res.requests.memory) out.push(`--memory-reservation=${bytes(res.requests.memory)}`);
if (res.limits && res.limits.cpu) out.push(`--cpus=${cpus(res.limits.cpu)}`);

const envSet = new Set();
for (const e of ctr.env || []) {
	if (e.valueFrom) die(`env ${e.name}: valueFrom is not translated`);
	envSet.add(e.name);
	const v = envOverride.has(e.name) ? envOverride.get(e.name) : e.value || '';
	out.push(`--env=${one(e.name, 'env name')}=${one(v, `env ${e.name}`)}`);
}
for (const n of envOverride.keys())
	if (!envSet.has(n)) die(`--env ${n}: the manifest sets no such variable`);

const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
for (const m of ctr.volumeMounts || []) {
	const v = volumes.get(m.name);
	if (!v) die(`volumeMount ${m.name}: no such volume`);
	if (!v.hostPath) die(`volume ${m.name}: only hostPath volumes are translated`);
	if (m.subPath) die(`volumeMount ${m.name}: subPath is not translated`);
	let host = v.hostPath.path;
	for (const [prefix, dir] of relocate)
		if (host === prefix || host.startsWith(`${prefix}/`)) {
			host = path.join(dir, host);
			break;
		}
	const type = v.hostPath.type || '';
	if (type === 'DirectoryOrCreate') fs.mkdirSync(host, { recursive: true, mode: 0o755 });
	else if (type === 'Directory' && !(fs.existsSync(host) && fs.statSync(host).isDirectory()))
		die(`volume ${m.name}: hostPath ${host} (type Directory) is not a directory`);
	else if (type !== 'Directory' && type !== 'DirectoryOrCreate' && type !== '')
		die(`volume ${m.name}: hostPath type ${type} is not translated`);
	const opts = [];
	if (m.readOnly) opts.push('ro');
	if (m.mountPropagation === 'HostToContainer') opts.push('rslave');
	else if (m.mountPropagation === 'Bidirectional') opts.push('rshared');
	else if (m.mountPropagation && m.mountPropagation !== 'None')
		die(`volumeMount ${m.name}: mountPropagation ${m.mountPropagation}`);
	out.push(`--volume=${one(host, 'hostPath')}:${one(m.mountPath, 'mountPath')}${opts.length ? `:${opts.join(',')}` : ''}`);
}

if (ctr.command) {
	if (ctr.command.length !== 1) die('command: one element only (podman\'s --entrypoint)');
	out.push(`--entrypoint=${one(ctr.command[0], 'command')}`);
}
out.push(one(ctr.image, 'image'));
for (const a of ctr.args || []) out.push(one(a, 'argument'));
console.log(out.join('\n'));
