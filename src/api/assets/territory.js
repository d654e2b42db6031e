// The diagnostic page: reads /territories/{siren}/diagnostic and draws figures, charts
// (Chart.js, vendored) and the map. window.__diagnostic reports readiness, the charts drawn
// and errors (for the browser test).
(function () {
  'use strict';
  var status = (window.__diagnostic = { ready: false, errors: [], charts: [] });
  window.addEventListener('error', function (e) { status.errors.push(String(e.message)); });
  var consoleError = console.error;
  console.error = function () {
    status.errors.push(Array.prototype.map.call(arguments, String).join(' '));
    consoleError.apply(console, arguments);
  };
  var siren = document.body.dataset.siren;
  var nf = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });
  var COLORS = ['#1f6f8b', '#99c24d', '#f18f01', '#c73e1d', '#6a4c93', '#2e933c', '#e0a458', '#3b8ea5', '#a23b72', '#5b6877'];

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  // A figure, or "inconnu" when the data does not say (never a zero in its place).
  function num(v, unit) {
    if (v === null || v === undefined) return '<span class="unknown">inconnu</span>';
    return nf.format(v) + (unit ? '\u00a0' + unit : '');
  }
  function kpis(id, items) {
    document.getElementById(id).innerHTML = items.map(function (k) {
      return '<div class="kpi"><b>' + num(k[1], k[2]) + '</b><span>' + esc(k[0]) + '</span></div>';
    }).join('');
  }
  function table(id, head, rows) {
    document.getElementById(id).innerHTML = '<tr>' + head.map(function (h, i) {
      return '<th' + (i ? ' class="n"' : '') + '>' + esc(h) + '</th>';
    }).join('') + '</tr>' + rows.map(function (r) {
      return '<tr>' + r.map(function (c, i) { return i ? '<td class="n">' + c + '</td>' : '<td>' + esc(c) + '</td>'; }).join('') + '</tr>';
    }).join('');
  }
  function chart(id, type, labels, datasets, opts) {
    var el = document.getElementById(id);
    if (!el) return;
    if (!labels.length) {
      el.parentNode.querySelector('figcaption').textContent += ' — aucune donnée';
      return;
    }
    new Chart(el, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: type === 'doughnut' || datasets.length > 1 } } }, opts || {})
    });
    status.charts.push(id);
  }
  var LABELS = { available: 'disponible', reserved: 'réservé', sold: 'vendu', let: 'loué', unknown: 'inconnu',
    sale: 'vente', lease: 'location', sale_or_lease: 'vente ou location', 'true': 'oui', 'false': 'non',
    flood_zone: 'zone inondable', seveso: 'Seveso / PPRT', natura2000: 'Natura 2000', soil_pollution: 'sol pollué' };
  function label(k) { return LABELS[k] || k; }

  function land(d) {
    var l = d.land;
    var yes = function (groups) { var g = groups.filter(function (x) { return x.key === 'true'; })[0]; return g || { count: 0, area_ha: 0 }; };
    kpis('land-kpis', [['sites', l.count], ['hectares', l.area_ha, 'ha'],
      ['friches', yes(l.brownfield).count], ['clés en main', yes(l.turnkey).count]]);
    chart('chart-size', 'bar', l.by_size_class.map(function (g) { return g.key; }),
      [{ label: 'ha', data: l.by_size_class.map(function (g) { return g.area_ha; }), backgroundColor: COLORS[0] }]);
    var types = (l.by_source_attribute || {}).site_type || [];
    chart('chart-site-type', 'doughnut', types.map(function (g) { return g.key; }),
      [{ data: types.map(function (g) { return g.area_ha; }), backgroundColor: COLORS }]);
    var rows = [];
    l.by_status.forEach(function (g) { rows.push(['statut : ' + label(g.key), g.count, num(g.area_ha, 'ha')]); });
    l.constraints.forEach(function (g) { rows.push(['contrainte : ' + label(g.key), g.count, num(g.area_ha, 'ha')]); });
    ((l.by_source_attribute || {}).site_statut || []).forEach(function (g) { rows.push(['Cartofriches : ' + g.key, g.count, num(g.area_ha, 'ha')]); });
    table('land-table', ['', 'sites', 'surface'], rows);
  }
  function buildings(d) {
    var b = d.buildings;
    kpis('buildings-kpis', [['bâtiments', b.count], ['surface de plancher', b.floor_area_m2, 'm²']]);
    var rows = b.by_status.map(function (g) { return ['statut : ' + label(g.key), g.count, num(g.floor_area_m2, 'm²')]; })
      .concat(b.by_tenure.map(function (g) { return ['offre : ' + label(g.key), g.count, num(g.floor_area_m2, 'm²')]; }));
    table('buildings-table', ['', 'bâtiments', 'surface'], rows);
  }
  function waste(d) {
    var w = d.waste;
    var items = [['gisements', w.deposits], ['détenteurs', w.holders], ['t/an caractérisées', w.tonnes_per_year, 't'],
      ['dont dangereux', w.hazardous.tonnes_per_year, 't'], ['non caractérisés', w.not_characterised]];
    if (w.partners_only) items.push(['réservé aux partenaires', w.partners_only.tonnes_per_year, 't']);
    kpis('waste-kpis', items);
    chart('chart-material', 'bar', w.by_material.map(function (g) { return g.key; }),
      [{ label: 't/an', data: w.by_material.map(function (g) { return g.tonnes_per_year; }), backgroundColor: COLORS[2] }],
      { indexAxis: 'y' });
  }
  function workforce(d) {
    var wf = d.workforce || {};
    kpis('workforce-kpis', [['habitants', wf.population], ['projets de recrutement', wf.hiring_projects],
      ['part jugée difficile', wf.difficult_share === null || wf.difficult_share === undefined ? null : wf.difficult_share * 100, '%'],
      ['demandeurs d’emploi', wf.job_seekers]]);
    var occ = (wf.occupations || []).slice(0, 15);
    chart('chart-occupations', 'bar', occ.map(function (o) { return o.label || o.code; }), [
      { label: 'projets', data: occ.map(function (o) { return o.hiring_projects; }), backgroundColor: COLORS[0] },
      { label: 'difficiles', data: occ.map(function (o) { return o.difficult_projects; }), backgroundColor: COLORS[3] },
      { label: 'saisonniers', data: occ.map(function (o) { return o.seasonal_projects; }), backgroundColor: COLORS[1] }],
      { indexAxis: 'y' });
    table('workforce-table', ['familles en tension', 'projets', 'part difficile'],
      (wf.families_in_tension || []).map(function (f) {
        return [f.label || f.family, num(f.hiring_projects), num(f.difficult_share === null ? null : f.difficult_share * 100, '%')];
      }));
  }
  function sources(d) {
    table('sources-table', ['source', 'producteur', 'licence', 'millésime'], (d.sources || []).map(function (s) {
      return [s.file, esc(s.producer), esc(s.licence), esc(s.vintage)];
    }));
    document.getElementById('missing').innerHTML = (d.missing || []).map(function (m) { return '<li>' + esc(m) + '</li>'; }).join('');
  }
  function map(d) {
    var m = new maplibregl.Map({ container: 'map', style: '/style.json', preserveDrawingBuffer: true, attributionControl: { compact: false } });
    m.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
    m.on('error', function (e) { status.errors.push('map: ' + String((e && e.error && e.error.message) || e)); });
    var b = d.territory.bbox;
    if (b) m.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, duration: 0 });
    m.once('idle', function () { status.mapReady = true; });
  }

  fetch('/territories/' + siren + '/diagnostic', { headers: { Accept: 'application/json' } })
    .then(function (r) {
      if (!r.ok) return r.json().then(function (p) { throw new Error(p.detail || r.status); });
      return r.json();
    })
    .then(function (d) {
      var t = d.territory;
      document.getElementById('title').textContent = 'Pré-diagnostic — ' + (t.name || ('territoire ' + siren));
      document.getElementById('subtitle').innerHTML = 'SIREN ' + esc(siren) + (t.epci_type ? ' · ' + esc(t.epci_type) : '') +
        ' · ' + num(t.communes) + ' communes · ' + num(t.population) + ' habitants' +
        (d.audience === 'partners' ? ' · vue partenaires' : ' · vue publique');
      land(d); buildings(d); waste(d); workforce(d); sources(d); map(d);
      document.getElementById('status').textContent = '';
      status.data = d;
      status.ready = true;
    })
    .catch(function (e) {
      document.getElementById('status').textContent = 'Erreur : ' + e.message;
      status.errors.push(String(e.message));
    });
})();
