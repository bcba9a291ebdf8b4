// dag.js — a run's nodes as a layered DAG in SVG. Edges come from the run's
// own data: a node's input artifact that another node of the run produced.
// Layout (Sugiyama-style, enough for pipelines of tens of nodes): layer =
// longest path from a source; order within a layer by a few barycenter
// sweeps; edges as cubic curves top to bottom. The same layout draws an
// artifact's lineage left to right (lineageSvg).

import { s, nodeHref, artifactHref } from './dom.js';

/** Edges [{from, to, key}] between the run's nodes, through artifacts. */
export function runEdges(nodes) {
  const producer = new Map();
  for (const n of nodes) for (const arts of Object.values(n.outputs || {})) for (const a of arts) producer.set(a.id, n.node);
  const seen = new Set();
  const edges = [];
  for (const n of nodes) {
    for (const [key, arts] of Object.entries(n.inputs || {})) {
      for (const a of arts) {
        const from = producer.get(a.id);
        if (!from || from === n.node || seen.has(`${from}>${n.node}`)) continue;
        seen.add(`${from}>${n.node}`);
        edges.push({ from, to: n.node, key });
      }
    }
  }
  return edges;
}

const short = (t, k) => (t.length > k ? `${t.slice(0, k - 1)}…` : t);

const NODE_W = 176;
const NODE_H = 50;
const GAP_X = 28;
const GAP_Y = 46;

/**
 * Layers and x positions. An edge that spans several layers gets a virtual
 * node in each layer it crosses, so it is routed between the real nodes
 * instead of through them; `routes` holds those virtual points per edge.
 * The layer of a node is its longest path from a source, unless `layerOf`
 * (a Map) gives it; then an edge may also run backwards, to a lower layer.
 */
export function layout(names, edges, { nodeW = 176, virtualW = 18, gapX = 28, layerOf } = {}) {
  const preds = new Map(names.map((n) => [n, []]));
  for (const e of edges) preds.get(e.to).push(e.from);
  const layer = new Map();
  const visiting = new Set();
  const depth = (n) => {
    if (layer.has(n)) return layer.get(n);
    if (visiting.has(n)) return 0; // a run cannot have a cycle; be safe anyway
    visiting.add(n);
    const d = preds.get(n).length ? 1 + Math.max(...preds.get(n).map(depth)) : 0;
    visiting.delete(n);
    layer.set(n, d);
    return d;
  };
  if (layerOf) for (const n of names) layer.set(n, layerOf.get(n));
  else names.forEach(depth);
  // the expanded graph: real nodes plus virtual ones on long edges
  const up = new Map(names.map((n) => [n, []]));
  const down = new Map(names.map((n) => [n, []]));
  const width = new Map(names.map((n) => [n, nodeW]));
  const routes = new Map();
  let k = 0;
  for (const e of edges) {
    let prev = e.from;
    const chain = [];
    const step = layer.get(e.to) > layer.get(e.from) ? 1 : -1;
    for (let l = layer.get(e.from) + step; (l - layer.get(e.to)) * step < 0; l += step) {
      const v = `\u0000v${k++}`;
      layer.set(v, l);
      width.set(v, virtualW);
      up.set(v, [prev]); down.set(v, []);
      down.get(prev).push(v);
      chain.push(v);
      prev = v;
    }
    down.get(prev).push(e.to);
    up.get(e.to).push(prev);
    routes.set(e, chain);
  }
  const layers = [];
  for (const [n, l] of layer) (layers[l] ||= []).push(n);
  for (let l = 0; l < layers.length; l++) layers[l] ||= [];
  const pos = new Map();
  const place = () => {
    for (const l of layers) {
      const total = l.reduce((a, n) => a + width.get(n), 0) + gapX * (l.length - 1);
      let x = -total / 2;
      for (const n of l) { pos.set(n, x + width.get(n) / 2); x += width.get(n) + gapX; }
    }
  };
  place();
  const bary = (n, nb) => {
    const xs = nb.get(n).map((p) => pos.get(p));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : pos.get(n);
  };
  for (let sweep = 0; sweep < 6; sweep++) {
    const goingDown = sweep % 2 === 0;
    const order = goingDown ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const l of order) {
      const keyed = l.map((n, i) => [bary(n, goingDown ? up : down), i, n]);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      l.splice(0, l.length, ...keyed.map((x) => x[2]));
      place();
    }
  }
  const xs = [...pos.values()];
  const minX = Math.min(...names.map((n) => pos.get(n) - nodeW / 2), ...xs);
  const maxX = Math.max(...names.map((n) => pos.get(n) + nodeW / 2), ...xs);
  return { layers, layer, pos, routes, minX, maxX };
}

/**
 * The SVG of a run's DAG. nodes: the run's node_list; opts.runId makes each
 * node a link to its detail page; opts.selected highlights one node.
 */
export function dagSvg(nodes, { runId, selected, label } = {}) {
  const names = nodes.map((n) => n.node);
  const byName = new Map(nodes.map((n) => [n.node, n]));
  const edges = runEdges(nodes);
  const { layers, layer, pos, routes, minX, maxX } = layout(names, edges, { nodeW: NODE_W, gapX: GAP_X });
  const width = Math.max(NODE_W + 2 * GAP_X, maxX - minX + 2 * GAP_X);
  const height = layers.length * (NODE_H + GAP_Y) + GAP_Y / 2;
  const cx = (n) => GAP_X + (pos.get(n) - minX);
  const ty = (n) => GAP_Y / 2 + layer.get(n) * (NODE_H + GAP_Y);
  const svg = s('svg', {
    class: 'dag', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group',
    'aria-label': label || `Pipeline graph: ${nodes.length} nodes`, 'data-nodes': nodes.length,
  });
  svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  const eg = s('g', { class: 'edges', 'aria-hidden': 'true' });
  const curve = (x1, y1, x2, y2) => {
    const my = (y1 + y2) / 2;
    return ` C${x1},${my} ${x2},${my} ${x2},${y2}`;
  };
  for (const e of edges) {
    let x = cx(e.from);
    let y = ty(e.from) + NODE_H;
    let d = `M${x},${y}`;
    for (const v of routes.get(e) || []) {
      const vx = cx(v);
      d += curve(x, y, vx, ty(v)) + ` L${vx},${ty(v) + NODE_H}`;
      x = vx;
      y = ty(v) + NODE_H;
    }
    d += curve(x, y, cx(e.to), ty(e.to) - 2);
    eg.append(s('path', { class: 'edge', d, 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to },
      s('title', {}, `${e.from} → ${e.to} (${e.key})`)));
  }
  svg.append(eg);
  for (const name of names) {
    const n = byName.get(name);
    const st = String(n.state || 'Pending');
    const x = cx(name) - NODE_W / 2;
    const y = ty(name);
    const g = s('g', { class: `dag-node state-${st.toLowerCase()}${selected === name ? ' selected' : ''}`, 'data-node': name, 'data-state': st });
    g.append(s('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }));
    g.append(s('rect', { class: 'stripe', x, y, width: 6, height: NODE_H, rx: 2 }));
    g.append(s('circle', { class: 'dot', cx: x + NODE_W - 12, cy: y + 12, r: 5 }));
    g.append(s('text', { class: 'dag-name', x: x + 14, y: y + 20 }, short(name, 20)));
    g.append(s('text', { class: 'dag-type', x: x + 14, y: y + 38 }, `${short(n.component_type || '', 15)} · ${st}${n.cache_hit ? ' ⟲' : ''}`));
    const title = `${name} (${n.component_type}): ${st}${n.cache_hit ? ', from the cache' : ''}${n.duration_s != null ? `, ${n.duration_s} s` : ''}`;
    g.prepend(s('title', {}, title));
    if (runId) {
      svg.append(s('a', { href: nodeHref(runId, name), class: 'dag-link', 'aria-label': title }, g));
    } else {
      svg.append(g);
    }
  }
  return svg;
}

const BOX_W = 172;
const BOX_H = 44;
const COL_GAP = 56;
const ROW_GAP = 12;
const PAD = 12;

/** The last segments of a URI, at most k characters. */
const uriTail = (uri, k = 22) => {
  const t = String(uri || '').replace(/\/+$/, '').split('/').slice(-3).join('/');
  return t.length > k ? `…${t.slice(-(k - 1))}` : t;
};

/**
 * The SVG of an artifact's lineage (GET .../lineage): artifacts as boxes,
 * executions as rounded boxes, one edge per artifact–execution pair of the
 * events, arrows in the direction data flowed. Columns are the walk's
 * hops (`levels`: an execution at hop k, then the artifacts it led to):
 * left to right downstream, right to left upstream, so data mostly flows
 * rightwards; an edge back to an earlier hop runs leftwards.
 */
export function lineageSvg(l, { label } = {}) {
  const up = l.direction === 'upstream';
  const nodes = new Map([
    ...l.artifacts.map((a) => [`a${a.id}`, { kind: 'artifact', v: a }]),
    ...l.executions.map((x) => [`e${x.id}`, { kind: 'execution', v: x }]),
  ]);
  const names = [...nodes.keys()];
  const layerOf = new Map();
  let ai = 0;
  let xi = 0;
  for (const lv of l.levels) {
    for (let i = 0; i < lv.executions && xi < l.executions.length; i++) layerOf.set(`e${l.executions[xi++].id}`, 2 * lv.hop - 1);
    for (let i = 0; i < lv.artifacts && ai < l.artifacts.length; i++) layerOf.set(`a${l.artifacts[ai++].id}`, 2 * lv.hop);
  }
  for (const n of names) if (!layerOf.has(n)) layerOf.set(n, 0); // levels always count every node; be safe anyway
  const seen = new Set();
  const edges = []; // along the walk: from the focal artifact outwards
  for (const ev of l.edges) {
    const a = `a${ev.artifact_id}`;
    const x = `e${ev.execution_id}`;
    if (!nodes.has(a) || !nodes.has(x) || seen.has(a + x)) continue;
    seen.add(a + x);
    const input = /INPUT$/.test(ev.type);
    const key = ((ev.path || []).find((p) => p.key !== undefined) || {}).key || '';
    edges.push(input !== up ? { from: a, to: x, key } : { from: x, to: a, key });
  }
  const { layers, layer, pos, routes, minX, maxX } = layout(names, edges, { nodeW: BOX_H, virtualW: 8, gapX: ROW_GAP, layerOf });
  const last = layers.length - 1;
  const lx = (n) => PAD + (up ? last - layer.get(n) : layer.get(n)) * (BOX_W + COL_GAP);
  const cy = (n) => PAD + pos.get(n) - minX;
  const width = 2 * PAD + layers.length * BOX_W + last * COL_GAP;
  const height = 2 * PAD + maxX - minX;
  const title = (n) => {
    const { kind, v } = nodes.get(n);
    return kind === 'artifact' ? `${v.type} #${v.id}` : `${v.type}${v.custom_properties && v.custom_properties.node ? ` ${v.custom_properties.node}` : ''} (execution #${v.id})`;
  };
  const svg = s('svg', {
    class: 'lineage', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group',
    'aria-label': label || `Lineage: ${l.artifacts.length} artifacts, ${l.executions.length} executions`,
    'data-direction': l.direction, 'data-artifacts': l.artifacts.length, 'data-executions': l.executions.length,
  });
  svg.append(s('defs', {}, s('marker', { id: 'lin-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  const eg = s('g', { class: 'edges', 'aria-hidden': 'true' });
  for (const e of edges) {
    const pts = [e.from, ...(routes.get(e) || []), e.to];
    if (up) pts.reverse(); // data-flow order
    const fwd = lx(pts[pts.length - 1]) > lx(pts[0]);
    const enter = (n) => (fwd ? lx(n) : lx(n) + BOX_W);
    const leave = (n) => (fwd ? lx(n) + BOX_W : lx(n));
    let px = leave(pts[0]);
    let py = cy(pts[0]);
    let d = `M${px},${py}`;
    for (const q of pts.slice(1)) {
      const real = nodes.has(q);
      const qx = enter(q) + (real ? (fwd ? -2 : 2) : 0);
      const mx = (px + qx) / 2;
      d += ` C${mx},${py} ${mx},${cy(q)} ${qx},${cy(q)}`;
      if (!real) d += ` L${leave(q)},${cy(q)}`;
      px = leave(q);
      py = cy(q);
    }
    const [src, dst] = up ? [e.to, e.from] : [e.from, e.to];
    eg.append(s('path', { class: 'edge', d, 'marker-end': 'url(#lin-arrow)', 'data-from': src, 'data-to': dst },
      s('title', {}, `${title(src)} → ${title(dst)}${e.key ? ` (${e.key})` : ''}`)));
  }
  svg.append(eg);
  for (const [n, { kind, v }] of nodes) {
    const x = lx(n);
    const y = cy(n) - BOX_H / 2;
    const cp = v.custom_properties || {};
    const focal = kind === 'artifact' && v.id === l.artifact_id;
    const g = s('g', {
      class: `lin-node lin-${kind} state-${String(v.state || 'unknown').toLowerCase()}${focal ? ' focal' : ''}`,
      'data-kind': kind, 'data-id': v.id, 'data-type': v.type, 'data-node': kind === 'execution' ? cp.node : null,
    },
    s('title', {}, `${title(n)}: ${kind === 'artifact' ? `${v.uri || '—'}, ` : ''}${v.state || '—'}`),
    s('rect', { x, y, width: BOX_W, height: BOX_H, rx: kind === 'artifact' ? 2 : 14 }),
    s('text', { class: 'dag-name', x: x + 10, y: y + 18 }, short(v.type, 20)),
    s('text', { class: `dag-type${kind === 'artifact' ? ' mono' : ''}`, x: x + 10, y: y + 35 },
      kind === 'artifact' ? `#${v.id} ${uriTail(v.uri, 20 - String(v.id).length)}` : short(cp.node ? String(cp.node) : `execution #${v.id}`, 25)));
    const href = kind === 'artifact' ? artifactHref(v.id) : cp.run_id && cp.node ? nodeHref(cp.run_id, cp.node) : null;
    svg.append(href ? s('a', { href, class: 'dag-link', 'aria-label': title(n) }, g) : g);
  }
  return svg;
}
