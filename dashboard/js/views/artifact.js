// artifact.js — one artifact: its metadata and a view of its files by type
// (the server's /preview): statistics (per-feature tables, histograms, top
// values, split against split), schema, anomalies, evaluation (the
// blessing decision first, metrics per slice), training curves, model
// summary, blessing, examples, and a file list for anything else. Below
// the preview, its lineage (upstream or downstream) as a graph.

import { api, ApiError } from '../api.js';
import { h, badge, kvTable, table, fmtNum, fmtValue, fmtTime, fmtBytes, pct, runHref, link, artifactHref } from '../dom.js';
import { histogram, topValues, lineChart, SERIES_COLORS } from '../charts.js';
import { lineageSvg } from '../dag.js';

export async function artifactView(main, [id], query, ctx) {
  const { artifact: a, contexts } = await api.artifact(id);
  const runCtx = contexts.find((c) => c.type === 'pipeline_run');
  const nodeCtx = contexts.find((c) => c.type === 'node');
  const crumbs = [link('#/runs', 'Runs'), runCtx ? link(runHref(runCtx.name), runCtx.name) : null, h('span', { 'aria-current': 'page' }, `${a.type} #${a.id}`)].filter(Boolean);
  const body = h('div', { class: 'preview' }, h('p', { class: 'muted' }, 'Loading…'));
  const lineage = lineageSection(a.id, ctx);
  main.replaceChildren(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {}, crumbs.map((c) => h('li', {}, c)))),
    h('h1', {}, `${a.type} `, h('span', { class: 'mono' }, `#${a.id}`)),
    h('details', { class: 'meta' }, h('summary', {}, 'Artifact metadata'),
      kvTable([
        ['URI', h('code', { class: 'wrap' }, a.uri || '—')], ['State', badge(a.state)],
        ['Created', fmtTime(a.create_time_ms)],
        ['Produced in', runCtx ? link(runHref(runCtx.name), runCtx.name) : '—'],
        ['Node', nodeCtx ? nodeCtx.name : '—'],
        ...Object.entries({ ...a.properties, ...a.custom_properties }).map(([k, v]) => [k, v && v.b64 ? '(binary)' : v]),
      ])),
    body,
    lineage.section);

  let p;
  try {
    [p] = await Promise.all([api.preview(id, query.split ? { split: query.split } : {}), lineage.load()]);
  } catch (e) {
    body.replaceChildren(h('p', { class: 'error', role: 'alert' }, `No preview: ${e.message}`));
    return;
  }
  if (!ctx.alive) return;
  const view = {
    statistics: statisticsView, schema: schemaView, anomalies: anomaliesView, evaluation: evaluationView,
    curves: curvesView, model: modelView, blessing: blessingView, examples: examplesView, files: filesView,
  }[p.preview] || filesView;
  body.replaceChildren(...[await view(p, a, query, ctx)].flat(Infinity).filter(Boolean));
}

// ------------------------------------------------------------------ lineage

const LINEAGE_MAX_DEPTH = 10;

/** The Lineage section: direction, depth, the graph; load() (re)draws it. */
function lineageSection(id, ctx) {
  let direction = 'upstream';
  let depth = 3;
  let seq = 0;
  const fig = h('figure', { class: 'dag-box lineage-box' });
  const note = h('p', { class: 'muted', id: 'lineage-note', role: 'status' });
  const dirButtons = [['upstream', 'Upstream'], ['downstream', 'Downstream']].map(([dir, text]) =>
    h('button', { type: 'button', class: 'tab', 'data-direction': dir, onclick: () => { direction = dir; load(); } }, text));
  const depthInput = h('input', { type: 'number', id: 'lineage-depth', min: 1, max: LINEAGE_MAX_DEPTH, value: depth });
  depthInput.addEventListener('change', () => {
    depth = Math.min(LINEAGE_MAX_DEPTH, Math.max(1, Math.round(Number(depthInput.value)) || 3));
    depthInput.value = depth;
    load();
  });
  async function load() {
    const mine = ++seq;
    for (const b of dirButtons) b.setAttribute('aria-pressed', String(b.dataset.direction === direction));
    note.textContent = 'Loading…';
    try {
      const l = await api.lineage(id, direction, depth);
      if (ctx.alive && mine === seq) draw(l);
    } catch (e) {
      if (mine !== seq) return;
      fig.replaceChildren();
      note.replaceChildren(h('span', { class: 'error-text' }, `No lineage: ${e.message}`));
      if (!(e instanceof ApiError)) console.error(e);
    }
  }
  function draw(l) {
    const hops = l.levels.length - 1;
    note.dataset.more = l.more;
    note.dataset.truncated = l.truncated;
    note.textContent = [
      l.executions.length
        ? `${l.direction === 'upstream' ? 'Upstream' : 'Downstream'}, ${hops} hop${hops === 1 ? '' : 's'}: ${l.artifacts.length} artifacts, ${l.executions.length} executions.`
        : `Nothing ${l.direction}.`,
      l.more ? `Deeper nodes exist: raise the depth (up to ${LINEAGE_MAX_DEPTH}).` : '',
      l.truncated ? 'Truncated: the server stops at 5,000 nodes.' : '',
    ].filter(Boolean).join(' ');
    fig.replaceChildren(lineageSvg(l, { label: `${l.direction} lineage of artifact ${id}` }),
      h('figcaption', { class: 'muted' }, 'Square boxes: artifacts (dashed: not LIVE; the highlighted one is this artifact). Rounded: executions, linked to their node. Columns: hops; arrows: data flow.'));
    if (l.direction === 'upstream') fig.scrollLeft = fig.scrollWidth; // this artifact is on the right
  }
  const section = h('section', { class: 'lineage-section', 'aria-labelledby': 'lineage-h' },
    h('h2', { id: 'lineage-h' }, 'Lineage'),
    h('div', { class: 'filters' },
      h('div', { class: 'tabs', role: 'group', 'aria-label': 'Lineage direction' }, dirButtons),
      h('label', { for: 'lineage-depth' }, 'Depth (hops): '), depthInput),
    note, fig);
  return { section, load };
}

// ---------------------------------------------------------------- statistics

function splitTabs(splits, current, compareKey, extra) {
  return h('div', { class: 'tabs', role: 'group', 'aria-label': 'Split' },
    splits.map((sp) => h('a', { class: 'tab', href: `${location.hash.split('?')[0]}?split=${encodeURIComponent(sp)}`, 'aria-current': sp === current ? 'true' : null }, sp)),
    extra || null);
}

function statCell(values, fmt) {
  if (values.length === 1) return h('td', { class: 'num' }, fmt(values[0]));
  return h('td', { class: 'num stack' }, values.map((v, i) => h('div', {}, h('span', { class: 'swatch', style: `background:${SERIES_COLORS[i]}` }), fmt(v))));
}

async function statisticsView(p, a, query) {
  const splits = p.splits || [p.split];
  const compare = query.compare ? query.compare.split(',').filter((x) => splits.includes(x)) : null;
  const shown = compare && compare.length >= 2 ? compare : [p.split];
  const bySplit = new Map([[p.split, p]]);
  for (const sp of shown) if (!bySplit.has(sp)) bySplit.set(sp, await api.preview(a.id, { split: sp }));
  const ds = shown.map((sp) => bySplit.get(sp).datasets[0] || { features: [], num_examples: 0 });
  const names = [...new Set(ds.flatMap((d) => d.features.map((f) => f.name)))].sort();
  const feat = (i, name) => ds[i].features.find((f) => f.name === name);
  const cmpPair = splits.length >= 2 ? (splits.includes('train') && splits.includes('eval') ? ['train', 'eval'] : splits.slice(0, 2)) : null;
  const base = location.hash.split('?')[0];
  const tabs = splitTabs(splits, compare ? null : p.split, null,
    cmpPair ? h('a', { class: 'tab', href: `${base}?compare=${cmpPair.join(',')}`, 'aria-current': compare ? 'true' : null, 'data-compare': cmpPair.join(',') }, `${cmpPair[0]} vs ${cmpPair[1]}`) : null);

  const filter = h('input', { type: 'search', id: 'feature-filter', placeholder: 'feature name', 'aria-label': 'Filter features by name' });
  const legend = shown.length > 1 ? h('p', { class: 'series-legend' }, shown.map((sp, i) => h('span', {}, h('span', { class: 'swatch', style: `background:${SERIES_COLORS[i]}` }), `${sp} (${fmtNum(ds[i].num_examples)} examples)`))) : null;

  const numeric = names.filter((n) => ds.some((d, i) => feat(i, n) && feat(i, n).numeric));
  const categorical = names.filter((n) => ds.some((d, i) => feat(i, n) && feat(i, n).string));
  const vals = (name, f) => shown.map((_, i) => { const x = feat(i, name); return x ? f(x, ds[i]) : null; });
  const missPct = (x, d) => pct(x.num_missing, d.num_examples || x.num_non_missing + x.num_missing);

  const numRows = numeric.map((name) => h('tr', { 'data-feature': name },
    h('th', { scope: 'row' }, name, h('div', { class: 'ftype' }, (ds.map((_, i) => feat(i, name)).find(Boolean) || {}).type)),
    statCell(vals(name, (x) => x.num_non_missing), fmtNum),
    statCell(vals(name, missPct), String),
    statCell(vals(name, (x) => x.numeric.mean), fmtNum),
    statCell(vals(name, (x) => x.numeric.std_dev), fmtNum),
    statCell(vals(name, (x) => pct(x.numeric.num_zeros, x.num_non_missing)), String),
    statCell(vals(name, (x) => x.numeric.min), fmtNum),
    statCell(vals(name, (x) => x.numeric.median), fmtNum),
    statCell(vals(name, (x) => x.numeric.max), fmtNum),
    h('td', { class: 'chart-cell' }, (() => {
      const series = shown.map((sp, i) => {
        const x = feat(i, name);
        const hist = x && x.numeric.histograms ? (x.numeric.histograms.find((hh) => hh.type === 'STANDARD') || x.numeric.histograms[0]) : null;
        return { name: sp, buckets: hist ? hist.buckets : [] };
      }).filter((sr) => sr.buckets.length);
      return series.length ? histogram(series, { feature: name }) : h('span', { class: 'muted' }, 'no histogram');
    })())));
  const catRows = categorical.map((name) => h('tr', { 'data-feature': name },
    h('th', { scope: 'row' }, name, h('div', { class: 'ftype' }, (ds.map((_, i) => feat(i, name)).find(Boolean) || {}).type)),
    statCell(vals(name, (x) => x.num_non_missing), fmtNum),
    statCell(vals(name, missPct), String),
    statCell(vals(name, (x) => x.string.unique), fmtNum),
    statCell(vals(name, (x) => (x.string.top_values[0] || {}).value), fmtValue),
    statCell(vals(name, (x) => pct((x.string.top_values[0] || {}).frequency || 0, x.num_non_missing)), String),
    statCell(vals(name, (x) => x.string.avg_length), fmtNum),
    h('td', { class: 'chart-cell' }, topValues(shown.map((sp, i) => {
      const x = feat(i, name);
      return { name: sp, total: x ? x.num_non_missing : 1, values: x ? x.string.top_values : [] };
    }), { feature: name }))));

  const numTable = h('table', { class: 'grid stats', id: 'numeric-features' },
    h('caption', {}, `Numeric features (${numeric.length})`),
    h('thead', {}, h('tr', {}, ['Feature', 'Count', 'Missing', 'Mean', 'Std dev', 'Zeros', 'Min', 'Median', 'Max', 'Histogram'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, numRows));
  const catTable = h('table', { class: 'grid stats', id: 'categorical-features' },
    h('caption', {}, `Categorical features (${categorical.length})`),
    h('thead', {}, h('tr', {}, ['Feature', 'Count', 'Missing', 'Unique', 'Top value', 'Top freq.', 'Avg length', 'Top values'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, catRows));
  filter.addEventListener('input', () => {
    const t = filter.value.trim().toLowerCase();
    for (const tr of [...numTable.tBodies[0].rows, ...catTable.tBodies[0].rows]) tr.hidden = t !== '' && !tr.dataset.feature.toLowerCase().includes(t);
  });
  return [
    h('h2', {}, shown.length > 1 ? `Statistics: ${shown.join(' vs ')}` : `Statistics of the ${p.split} split`),
    tabs,
    h('p', {}, shown.length === 1 ? `${fmtNum(ds[0].num_examples)} examples. ` : '', h('label', { for: 'feature-filter' }, 'Filter features: '), filter),
    legend, numTable, catTable,
  ];
}

// ------------------------------------------------------------------- schema

function domainText(d) {
  if (!d) return '—';
  if (d.kind === 'string') return `${(d.values || []).join(', ')}${d.name ? ` (domain ${d.name})` : ''}`;
  return `${d.kind} in [${fmtValue(d.min)}, ${fmtValue(d.max)}]`;
}

function schemaView(p) {
  return [h('h2', {}, `Schema: ${p.features.length} features`),
    table(['Feature', 'Type', 'Presence', 'Valency / shape', 'Domain'], p.features.map((f) => h('tr', { 'data-feature': f.name },
      h('th', { scope: 'row' }, f.name), h('td', {}, f.type),
      h('td', {}, f.presence ? `min fraction ${fmtValue(f.presence.min_fraction)}, min count ${fmtValue(f.presence.min_count)}` : '—'),
      h('td', {}, f.shape ? `shape [${f.shape.join(', ')}]` : f.value_count ? `${fmtValue(f.value_count.min)}–${fmtValue(f.value_count.max)} values` : '—'),
      h('td', {}, domainText(f.domain)))), { class: 'grid schema' })];
}

// ---------------------------------------------------------------- anomalies

function anomaliesView(p) {
  return [h('h2', {}, p.count ? `${p.count} anomal${p.count === 1 ? 'y' : 'ies'}` : 'No anomalies'),
    ...p.by_split.map((sp) => h('section', { class: 'anomalies', 'data-split': sp.split },
      h('h3', {}, `Split ${sp.split}`),
      sp.data_missing ? h('p', { class: 'error-text' }, 'Data missing: the split has no examples.') : null,
      sp.anomalies.length
        ? table(['Feature', 'Severity', 'Anomaly', 'Details'], sp.anomalies.map((an) => [
          an.feature, badge(an.severity), an.short_description,
          h('div', {}, an.description, an.reasons && an.reasons.length ? h('ul', {}, an.reasons.map((r) => h('li', {}, `${r.type}: ${r.description || r.short_description}`))) : null),
        ]))
        : h('p', { class: 'ok-text' }, '✓ No anomalies found in this split.')))];
}

// --------------------------------------------------------------- evaluation

const METRIC_ORDER = ['example_count', 'auc', 'auc_precision_recall', 'accuracy', 'precision', 'recall', 'binary_crossentropy', 'calibration', 'mean_label', 'mean_prediction'];

function evaluationView(p) {
  const v = p.validation || {};
  const decision = p.blessed ? 'BLESSED' : 'NOT_BLESSED';
  const failed = (v.thresholds || []).filter((t) => !t.passed);
  const slices = (p.metrics && p.metrics.slices) || [];
  const overall = p.overall || {};
  const metricNames = [...METRIC_ORDER.filter((m) => m in overall), ...Object.keys(overall).filter((m) => !METRIC_ORDER.includes(m) && typeof overall[m] === 'number')];
  const model = (p.metrics && p.metrics.model) || {};
  const baseline = p.metrics && p.metrics.baseline_model;
  const aucMax = Math.max(1, ...slices.map((sl) => sl.metrics.auc || 0));
  const out = [
    h('section', { class: `decision ${p.blessed ? 'blessed' : 'not-blessed'}`, id: 'decision', 'data-blessed': decision, 'aria-label': 'Blessing decision' },
      h('div', { class: 'decision-word' }, p.blessed ? '✔ ' : '✘ ', decision),
      h('p', {}, p.blessed
        ? 'The model passed every threshold: the Pusher may push it.'
        : `The model failed ${failed.length} threshold${failed.length === 1 ? '' : 's'}: it will not be pushed.`),
      failed.length ? h('ul', {}, failed.map((t) => h('li', {}, t.why || `${t.metric} (${t.kind})`))) : null),
    h('h2', {}, 'Validation thresholds'),
    (v.thresholds || []).length ? table(['Metric', 'Kind', 'Value', 'Bound', 'Result', 'Why'], v.thresholds.map((t) => [
      t.metric, t.kind, fmtNum(t.value),
      t.lower_bound !== undefined ? `≥ ${fmtNum(t.lower_bound)}` : t.upper_bound !== undefined ? `≤ ${fmtNum(t.upper_bound)}` : t.absolute !== undefined ? `change ${fmtNum(t.absolute)} (${t.direction || ''})` : t.relative !== undefined ? `relative ${fmtNum(t.relative)}` : '—',
      t.skipped ? h('span', { class: 'badge state-pending' }, 'skipped') : t.passed ? h('span', { class: 'badge state-complete' }, 'passed') : h('span', { class: 'badge state-failed' }, 'failed'),
      t.why || '',
    ])) : h('p', { class: 'muted' }, 'No thresholds configured.'),
    h('h2', {}, 'Models'),
    kvTable([['Candidate', model.uri ? h('span', {}, model.id ? link(artifactHref(model.id), `Model #${model.id}`) : null, ' ', h('code', {}, model.uri)) : '—'],
      ['Baseline', baseline ? h('code', {}, typeof baseline === 'string' ? baseline : (baseline.uri || JSON.stringify(baseline))) : 'none (first model, or no blessed model to compare with)'],
      ['Label', model.label], ['Head', model.head], ['Examples', p.metrics ? `${fmtNum(p.metrics.example_count)} from splits ${(p.metrics.example_splits || []).join(', ')}` : '—']]),
    h('h2', {}, 'Metrics per slice'),
    h('div', { class: 'table-box' }, table(['Slice', ...metricNames], slices.map((sl) => h('tr', { 'data-slice': sl.slice_key, class: sl.slice_key === 'Overall' ? 'overall' : null },
      h('th', { scope: 'row' }, sl.slice_key),
      metricNames.map((m) => h('td', { class: 'num' }, m === 'auc' && typeof sl.metrics.auc === 'number'
        ? h('span', { class: 'bar-num' }, h('span', { class: 'inline-bar', style: `width:${(40 * sl.metrics.auc) / aucMax}px` }), fmtNum(sl.metrics.auc))
        : fmtNum(sl.metrics[m]))))), { class: 'grid slices' })),
  ];
  const cm = overall.confusion_matrix_at_thresholds;
  if (cm && cm.length) {
    out.push(h('h2', {}, 'Confusion matrix at thresholds (Overall)'),
      table(['Threshold', 'TP', 'FP', 'TN', 'FN', 'Precision', 'Recall'], cm.map((c) => [c.threshold, c.tp, c.fp, c.tn, c.fn, c.precision, c.recall].map((x) => fmtNum(x)))));
  }
  return out;
}

// ------------------------------------------------------------------- curves

function curvesView(p) {
  const pts = p.points || [];
  const train = pts.filter((q) => typeof q.loss === 'number').map((q) => [q.step, q.loss]);
  const evalPts = pts.filter((q) => q.eval);
  const evalLoss = evalPts.filter((q) => typeof q.eval.loss === 'number').map((q) => [q.step, q.eval.loss]);
  const metricKeys = [...new Set(evalPts.flatMap((q) => Object.keys(q.eval)))]
    .filter((k) => !['loss', 'examples'].includes(k) && evalPts.some((q) => typeof q.eval[k] === 'number'));
  const lr = pts.filter((q) => typeof q.learning_rate === 'number').map((q) => [q.step, q.learning_rate]);
  return [
    h('h2', {}, 'Training curves'),
    h('p', { class: 'muted' }, `${fmtNum(p.lines)} lines in curves.jsonl${p.stride > 1 ? `, every ${p.stride}th drawn` : ''}; ${evalPts.length} evaluation point${evalPts.length === 1 ? '' : 's'}.`),
    h('div', { class: 'charts' },
      lineChart([{ name: 'train loss', points: train }, { name: 'eval loss', points: evalLoss }].filter((sr) => sr.points.length), { title: 'Loss', id: 'loss' }),
      metricKeys.length ? lineChart(metricKeys.map((k) => ({ name: `eval ${k}`, points: evalPts.filter((q) => typeof q.eval[k] === 'number').map((q) => [q.step, q.eval[k]]) })), { title: 'Evaluation metrics', id: 'eval-metrics' }) : null,
      lr.length > 1 && new Set(lr.map((x) => x[1])).size > 1 ? lineChart([{ name: 'learning rate', points: lr }], { title: 'Learning rate', id: 'lr' }) : null),
    p.metrics ? [h('h2', {}, 'Final metrics'), kvTable(Object.entries(p.metrics).filter(([, x]) => typeof x !== 'object'))] : null,
  ];
}

// -------------------------------------------------------------------- model

function modelView(p) {
  const head = p.head || {};
  return [
    h('h2', {}, 'Model summary'),
    kvTable([['Kind', p.kind], ['Format', p.format], ['Label', p.label], ['Trained steps', p.step],
      ['Head', typeof head === 'object' ? Object.entries(head).map(([k, x]) => `${k}=${fmtValue(x)}`).join(', ') : head],
      ['Linear part', p.linear === undefined ? '—' : p.linear], ['DNN input width', p.dnn_input_dim], ['Directory', h('code', { class: 'wrap' }, p.dir || '—')]]),
    p.hidden && p.hidden.length ? [h('h3', {}, 'Hidden layers'), table(['Layer', 'Units', 'Activation', 'Batch norm', 'Dropout'], p.hidden.map((l) => [l.name, l.units, l.activation, l.batch_norm, l.dropout]))] : null,
    p.columns && p.columns.length ? [h('h3', {}, 'Feature columns'), table(['Column', 'Type'], p.columns.map((c) => [c.name, c.type]))] : null,
    p.signatures ? [h('h3', {}, 'Signatures'), table(['Signature', 'Outputs'], Object.entries(p.signatures).map(([k, x]) => [k, (x.outputs || []).join(', ')]))] : null,
    p.files ? [h('h3', {}, 'Files'), table(['File', 'Size'], p.files.map((f) => [f.name, fmtBytes(f.size)]))] : null,
  ];
}

function blessingView(p, a) {
  const word = p.blessed ? (a.type === 'InfraBlessing' ? 'INFRA_BLESSED' : 'BLESSED') : (a.type === 'InfraBlessing' ? 'INFRA_NOT_BLESSED' : 'NOT_BLESSED');
  return h('section', { class: `decision ${p.blessed ? 'blessed' : 'not-blessed'}`, id: 'decision', 'data-blessed': p.blessed ? 'BLESSED' : 'NOT_BLESSED' },
    h('div', { class: 'decision-word' }, p.blessed ? '✔ ' : '✘ ', word), h('p', {}, `The marker file is ${p.file}.`));
}

// ----------------------------------------------------------------- examples

function examplesView(p) {
  const cols = [...new Set(p.rows.flatMap((r) => Object.keys(r)))];
  const cell = (f) => {
    if (!f) return '—';
    const list = f.int64_list || f.float_list || f.bytes_list || [];
    return list.map((x) => (typeof x === 'number' ? fmtNum(x, 6) : String(x))).join(', ');
  };
  return [h('h2', {}, `First ${p.rows.length} examples of the ${p.split} split`),
    splitTabs(p.splits || [p.split], p.split),
    h('div', { class: 'table-box' }, table(cols, p.rows.map((r) => cols.map((c) => cell(r[c]))), { class: 'grid examples' }))];
}

function filesView(p) {
  return [h('h2', {}, 'Files'),
    (p.files || []).length ? table(['Path', 'Size'], p.files.map((f) => [f.path + (f.dir ? '/' : ''), f.dir ? '—' : fmtBytes(f.size)])) : h('p', { class: 'muted' }, 'The artifact has no files.'),
    p.truncated ? h('p', { class: 'muted' }, 'Only the first 1000 files are listed.') : null];
}

