#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Just enough of a Kubernetes API server for the real kubectl to read pods:
// discovery (/api, /apis, /api/v1, /version), GET of a pod, and lists of
// pods with label and field selectors (equality only), from a fixture
// file of pods:
//   [{"namespace": "default", "name": "web", "node": "n1",
//     "runtimeClassName": "kata-qemu", "labels": {"app": "web"}}, ...]
// It answers on 127.0.0.1:PORT (0: any; the port is printed on stdout as
// "listening PORT"), and logs each request line to stderr.
//
//   fake-apiserver.js FIXTURE PORT
'use strict';

const fs = require('fs');
const http = require('http');

const [fixture, portArg] = process.argv.slice(2);
const pods = JSON.parse(fs.readFileSync(fixture, 'utf8')).map((p) => ({
	apiVersion: 'v1',
	kind: 'Pod',
	metadata: { namespace: p.namespace, name: p.name, labels: p.labels || {}, uid: `uid-${p.namespace}-${p.name}` },
	spec: Object.assign({ containers: [{ name: p.container || p.name, image: 'x' }] },
		p.node ? { nodeName: p.node } : {}, p.runtimeClassName ? { runtimeClassName: p.runtimeClassName } : {}),
	status: { phase: p.node ? 'Running' : 'Pending' },
}));

const send = (res, code, body) => {
	res.writeHead(code, { 'Content-Type': 'application/json' });
	res.end(JSON.stringify(body));
};
const notFound = (res, what) => send(res, 404, {
	kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${what} not found`,
});

// "a=b,c=d" -> [[a, b], [c, d]] (= and == only)
const terms = (s) => (s ? s.split(',').map((t) => t.split(/==?/)) : []);
const field = (pod, path) => path.split('.').reduce((o, k) => (o === undefined ? undefined : o[k]), pod);

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
			resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'],
				shortNames: ['po'] }],
		});
	let m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/);
	if (m) {
		const pod = pods.find((x) => x.metadata.namespace === m[1] && x.metadata.name === m[2]);
		return pod ? send(res, 200, pod) : notFound(res, `pods "${m[2]}"`);
	}
	m = p.match(/^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/);
	if (m) {
		const labels = terms(url.searchParams.get('labelSelector'));
		const fields = terms(url.searchParams.get('fieldSelector'));
		const items = pods.filter((x) => (!m[1] || x.metadata.namespace === m[1]) &&
			labels.every(([k, v]) => x.metadata.labels[k] === v) &&
			fields.every(([k, v]) => String(field(x, k) === undefined ? '' : field(x, k)) === v));
		return send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
	}
	return notFound(res, p);
}).listen(Number(portArg) || 0, '127.0.0.1', function listening() {
	console.log(`listening ${this.address().port}`);
});
