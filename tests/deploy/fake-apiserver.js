#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Just enough of a Kubernetes API server for the real kubectl to read pods
// and nodes: discovery (/api, /apis, /api/v1, /version), GET of a pod or a
// node, lists of pods and of nodes with label and field selectors (equality
// only), and the pod proxy, from a fixture file: an array of pods, or
//   {"pods": [{"namespace": "default", "name": "web", "node": "n1",
//              "runtimeClassName": "kata-qemu", "labels": {"app": "web"},
//              "ready": true, "metrics": "127.0.0.1:41234", "metricsPort": 2112}, ...],
//    "nodes": [{"name": "n1", "labels": {"katacontainers.io/kata-runtime": "true"}}, ...]}
// "ready" gives the pod a Ready condition (True or False; none without it).
// The pod proxy, GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH, takes
// PORT to be the pod's container port "metrics" (metricsPort, default 2112;
// another port: 404), and relays a GET of PATH on the pod's "metrics"
// address (status and body), or answers 503 as the API server does when it
// cannot reach the pod. A pod's "proxyDelayMs" holds each of its proxy
// answers that long; every proxy request is logged with how many were then
// in flight ("proxy NS/NAME: N in flight"), so that a test can see reads
// made side by side.
// It answers on 127.0.0.1:PORT (0: any; the port is printed on stdout as
// "listening PORT"), and logs each request line to stderr.
//
//   fake-apiserver.js FIXTURE PORT
'use strict';

const fs = require('fs');
const http = require('http');

const [fixture, portArg] = process.argv.slice(2);
const fix = JSON.parse(fs.readFileSync(fixture, 'utf8'));
const fixPods = Array.isArray(fix) ? fix : fix.pods || [];
const fixNodes = Array.isArray(fix) ? [] : fix.nodes || [];
const condition = (type, ok) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: '2026-01-01T00:00:00Z' });
const pods = fixPods.map((p) => ({
	apiVersion: 'v1',
	kind: 'Pod',
	metadata: { namespace: p.namespace, name: p.name, labels: p.labels || {}, uid: `uid-${p.namespace}-${p.name}` },
	spec: Object.assign({ containers: [{ name: p.container || p.name, image: 'x' }] },
		p.node ? { nodeName: p.node } : {}, p.runtimeClassName ? { runtimeClassName: p.runtimeClassName } : {}),
	status: Object.assign({ phase: p.node ? 'Running' : 'Pending' },
		p.ready === undefined ? {} : { conditions: [condition('Ready', p.ready)] }),
}));
// where the pod proxy reaches each pod: "ns/name" -> {port, address}
const proxied = new Map(fixPods.map((p) => [`${p.namespace}/${p.name}`,
	{ port: String(p.metricsPort || 2112), address: p.metrics, delay: p.proxyDelayMs || 0 }]));
let inFlight = 0;
const nodes = fixNodes.map((n) => ({
	apiVersion: 'v1',
	kind: 'Node',
	metadata: { name: n.name, labels: n.labels || {}, uid: `uid-node-${n.name}` },
	spec: {},
	status: { conditions: [condition('Ready', true)] },
}));

const send = (res, code, body) => {
	res.writeHead(code, { 'Content-Type': 'application/json' });
	res.end(JSON.stringify(body));
};
const failure = (res, code, reason, message) => send(res, code, {
	kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, code, message,
});
const notFound = (res, what) => failure(res, 404, 'NotFound', `${what} not found`);

// "a=b,c=d" -> [[a, b], [c, d]] (= and == only)
const terms = (s) => (s ? s.split(',').map((t) => t.split(/==?/)) : []);
const field = (obj, path) => path.split('.').reduce((o, k) => (o === undefined ? undefined : o[k]), obj);
const select = (url, objs) => {
	const labels = terms(url.searchParams.get('labelSelector'));
	const fields = terms(url.searchParams.get('fieldSelector'));
	return objs.filter((x) => labels.every(([k, v]) => x.metadata.labels[k] === v) &&
		fields.every(([k, v]) => String(field(x, k) === undefined ? '' : field(x, k)) === v));
};

// GET of http://ADDRESS/PATH, relayed: its status and body.
const proxy = (res, address, path) => {
	const up = http.get(`http://${address}${path}`, { timeout: 5000 }, (r) => {
		res.writeHead(r.statusCode, { 'Content-Type': r.headers['content-type'] || 'text/plain' });
		r.pipe(res);
	});
	up.on('timeout', () => up.destroy(new Error('i/o timeout')));
	up.on('error', (e) => {
		if (!res.headersSent)
			failure(res, 503, 'ServiceUnavailable', `error trying to reach service: dial tcp ${address}: ${e.message}`);
		else
			res.destroy();
	});
};

http.createServer((req, res) => {
	process.stderr.write(`${req.method} ${req.url}\n`);
	const url = new URL(req.url, 'http://x');
	const p = url.pathname.replace(/\/$/, '');
	if (p === '/version')
		return send(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0' });
	if (p === '/api')
		return send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
	if (p === '/apis')
		return send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
	if (p === '/api/v1')
		return send(res, 200, {
			kind: 'APIResourceList', groupVersion: 'v1',
			resources: [
				{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
				{ name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list'],
					shortNames: ['no'] },
			],
		});
	let m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/proxy(\/.*)?$/);
	if (m) {
		const [name, port] = decodeURIComponent(m[2]).split(':');
		const key = `${m[1]}/${name}`;
		if (!pods.some((x) => `${x.metadata.namespace}/${x.metadata.name}` === key))
			return notFound(res, `pods "${name}"`);
		const to = proxied.get(key);
		if (port !== undefined && port !== to.port)
			return notFound(res, `port ${port} of pod "${name}"`);
		inFlight++;
		process.stderr.write(`proxy ${key}: ${inFlight} in flight\n`);
		res.on('close', () => inFlight--);
		const go = () => {
			if (!to.address)
				return failure(res, 503, 'ServiceUnavailable', `error trying to reach service: pod "${name}" serves nothing`);
			return proxy(res, to.address, (m[3] || '/') + url.search);
		};
		return to.delay ? setTimeout(go, to.delay) : go();
	}
	m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/);
	if (m) {
		const pod = pods.find((x) => x.metadata.namespace === m[1] && x.metadata.name === m[2]);
		return pod ? send(res, 200, pod) : notFound(res, `pods "${m[2]}"`);
	}
	m = p.match(/^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/);
	if (m) {
		const items = select(url, pods.filter((x) => !m[1] || x.metadata.namespace === m[1]));
		return send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
	}
	m = p.match(/^\/api\/v1\/nodes\/([^/]+)$/);
	if (m) {
		const node = nodes.find((x) => x.metadata.name === m[1]);
		return node ? send(res, 200, node) : notFound(res, `nodes "${m[1]}"`);
	}
	if (p === '/api/v1/nodes')
		return send(res, 200, { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: select(url, nodes) });
	return notFound(res, p);
}).listen(Number(portArg) || 0, '127.0.0.1', function listening() {
	console.log(`listening ${this.address().port}`);
});
