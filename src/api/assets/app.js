// The terriens map page: layers from /tiles/all.json, toggles, popups, search.
// window.__terriens reports readiness, rendered features per layer and errors (for tests).
(function () {
  'use strict';
  var status = (window.__terriens = { ready: false, errors: [], rendered: {}, selected: [] });
  window.addEventListener('error', function (e) { status.errors.push(String(e.message)); });
  var consoleError = console.error;
  console.error = function () {
    status.errors.push(Array.prototype.map.call(arguments, String).join(' '));
    consoleError.apply(console, arguments);
  };

  // MapLibre writes the view into the hash as soon as it loads: remember whether the URL came
  // with one (a shared view) before it does.
  var initialHash = location.hash;
  var LAYERS = ['territories', 'catchments', 'plots', 'buildings', 'waste_deposits'];
  var map = new maplibregl.Map({ container: 'map', style: '/style.json', hash: true });
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  map.on('error', function (e) {
    status.errors.push(String((e && e.error && e.error.message) || e));
  });

  function styleLayersOf(group) {
    return map.getStyle().layers.filter(function (l) { return l['source-layer'] === group; })
      .map(function (l) { return l.id; });
  }
  function interactiveLayers() {
    return map.getStyle().layers.filter(function (l) { return l.source === 'terriens'; })
      .map(function (l) { return l.id; });
  }

  // Layer toggles.
  document.querySelectorAll('#layers input[type=checkbox]').forEach(function (box) {
    box.addEventListener('change', function () {
      styleLayersOf(box.dataset.group).forEach(function (id) {
        map.setLayoutProperty(id, 'visibility', box.checked ? 'visible' : 'none');
      });
    });
  });

  // Popups with the attributes of the clicked feature.
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  map.on('click', function (e) {
    var hits = map.queryRenderedFeatures(e.point, { layers: interactiveLayers() });
    if (!hits.length) return;
    var f = hits[0];
    var rows = Object.keys(f.properties).map(function (k) {
      return '<tr><td>' + esc(k) + '</td><td>' + esc(f.properties[k]) + '</td></tr>';
    }).join('');
    var title = f.properties.cluster ? 'cluster of ' + f.properties.point_count : '#' + f.id;
    new maplibregl.Popup({ maxWidth: '340px' }).setLngLat(e.lngLat)
      .setHTML('<strong>' + esc(f.sourceLayer) + ' ' + esc(title) + '</strong><table>' + rows + '</table>')
      .addTo(map);
  });
  map.on('mousemove', function (e) {
    var hits = map.queryRenderedFeatures(e.point, { layers: interactiveLayers() });
    map.getCanvas().style.cursor = hits.length ? 'pointer' : '';
  });

  // Frame the data, list the materials, then report readiness once drawn.
  var framed = false;
  fetch('/tiles/all.json').then(function (r) { return r.json(); }).then(function (tj) {
    var select = document.getElementById('material');
    var deposits = (tj.vector_layers || []).filter(function (l) { return l.id === 'waste_deposits'; })[0];
    var materials = deposits ? Object.keys(deposits.fields).filter(function (k) {
      return k.indexOf('count_') === 0 && k !== 'count_unknown';
    }).map(function (k) { return k.slice(6); }) : [];
    select.innerHTML = '<option value="">any</option>' + materials.map(function (m) {
      return '<option>' + esc(m) + '</option>';
    }).join('');
    document.getElementById('p-material').innerHTML = '<option value="">none</option>' +
      materials.filter(function (m) { return m !== 'water' && m !== 'heat'; }).map(function (m) {
        return '<option' + (m === 'wood' ? ' selected' : '') + '>' + esc(m) + '</option>';
      }).join('');
    var legend = document.getElementById('legend');
    legend.innerHTML = '<h2>Data</h2>' + (tj.vector_layers || []).map(function (l) {
      return '<div>' + esc(l.id) + ': ' + esc(l.feature_count) + ' features, complete from zoom ' +
        esc(l.complete_from_zoom === null ? '—' : l.complete_from_zoom) + '</div>';
    }).join('') + '<div><small>version ' + esc(tj.version) + '</small></div>';
    var b = tj.bounds;
    if (!initialHash && b && b[0] > -180) {
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, animate: false });
    }
    framed = true;
  }).catch(function (e) { status.errors.push('tilejson: ' + e); framed = true; });

  map.on('idle', function () {
    if (!framed) return;
    var counts = {};
    LAYERS.forEach(function (l) { counts[l] = 0; });
    var sample = null;
    map.queryRenderedFeatures({ layers: interactiveLayers() }).forEach(function (f) {
      counts[f.sourceLayer] = (counts[f.sourceLayer] || 0) + 1;
      if (!sample && f.sourceLayer === 'waste_deposits' && f.geometry.type === 'Point') {
        var p = map.project(f.geometry.coordinates);
        sample = [Math.round(p.x), Math.round(p.y)];
      }
    });
    status.samplePoint = sample;
    status.rendered = counts;
    status.zoom = map.getZoom();
    status.ready = true;
  });

  // Search: sites by hectares, deposits by material within a radius of the map centre.
  var selected = [];
  function clearSelection() {
    selected.forEach(function (s) { map.setFeatureState(s, { selected: false }); });
    selected = [];
  }
  function circle(lon, lat, radiusM) {
    var pts = [];
    for (var i = 0; i <= 64; i++) {
      var a = (i / 64) * 2 * Math.PI;
      var dLat = (radiusM * Math.cos(a)) / 111320;
      var dLon = (radiusM * Math.sin(a)) / (111320 * Math.cos((lat * Math.PI) / 180));
      pts.push([lon + dLon, lat + dLat]);
    }
    return { type: 'Feature', properties: { kind: 'area' }, geometry: { type: 'LineString', coordinates: pts } };
  }
  function anchorOf(g) {
    if (!g) return null;
    if (g.type === 'Point') return g.coordinates;
    var ring = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'MultiPolygon' ? g.coordinates[0][0] : null;
    if (!ring) return null;
    var x = 0, y = 0;
    ring.forEach(function (c) { x += c[0]; y += c[1]; });
    return [x / ring.length, y / ring.length];
  }
  function show(fc, defaultLayer, area) {
    clearSelection();
    var list = document.getElementById('results');
    list.innerHTML = '';
    var hits = [];
    (fc.features || []).forEach(function (f) {
      var layer = (f.properties && f.properties.layer) || f.layer || defaultLayer;
      var key = { source: 'terriens', sourceLayer: layer, id: f.id };
      map.setFeatureState(key, { selected: true });
      selected.push(key);
      var at = anchorOf(f.geometry);
      if (at) hits.push({ type: 'Feature', properties: { kind: 'hit' }, geometry: { type: 'Point', coordinates: at } });
      var li = document.createElement('li');
      var p = f.properties || {};
      li.textContent = layer + ' #' + f.id + (p.name ? ' ' + p.name : '') +
        (p.area_ha !== undefined ? ' — ' + Number(p.area_ha).toFixed(1) + ' ha' : '') +
        (p.quantity !== undefined ? ' — ' + p.quantity + ' ' + (p.unit || '') : '');
      if (at) li.addEventListener('click', function () { map.flyTo({ center: at, zoom: Math.max(map.getZoom(), 14) }); });
      list.appendChild(li);
    });
    status.selected = selected.map(function (s) { return s.id; });
    map.getSource('search').setData({ type: 'FeatureCollection', features: (area ? [area] : []).concat(hits) });
    document.getElementById('search-status').textContent = (fc.features || []).length + ' result(s)';
  }
  function search(url, defaultLayer, area) {
    document.getElementById('search-status').textContent = 'searching…';
    return fetch(url).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (p) {
          throw new Error(p.detail || ('HTTP ' + r.status));
        });
      }
      return r.json();
    }).then(function (fc) { show(fc, defaultLayer, area); })
      .catch(function (e) { document.getElementById('search-status').textContent = 'search failed: ' + e.message; });
  }
  document.getElementById('site-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var lo = document.getElementById('ha-min').value, hi = document.getElementById('ha-max').value;
    search('/sites/search?area_ha=' + encodeURIComponent(lo + '..' + hi) + '&limit=200', 'plots', null);
  });
  document.getElementById('deposit-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var c = map.getCenter();
    var r = Number(document.getElementById('radius').value) || 5000;
    var m = document.getElementById('material').value;
    var url = '/layers/waste_deposits/search?lon=' + c.lng.toFixed(6) + '&lat=' + c.lat.toFixed(6) +
      '&radius_m=' + r + (m ? '&material=' + encodeURIComponent(m) : '') + '&limit=200';
    search(url, 'waste_deposits', circle(c.lng, c.lat, r));
  });

  // Project panel: the needs of a project, POST /match, the ranked sites with their score
  // bars and reasons, and the deposits that would supply each site drawn to it.
  var EXAMPLES = {
    'Sawmill and wood panels': { haMin: 5, haMax: 20, power: 2, material: 'wood', tonnes: 500, drive: 30, profile: 'hgv', occupation: 'D1X33', headcount: 20, commute: 30 },
    'Foundry (scrap metal)': { haMin: 3, haMax: 10, power: 5, material: 'metal', tonnes: 2000, drive: 45, profile: 'hgv', occupation: 'D1X33', headcount: 40, commute: 30 },
    'Plastics recycling': { haMin: 2, haMax: 8, power: 1, material: 'plastic', tonnes: 800, drive: 30, profile: 'hgv', occupation: '', headcount: 10, commute: 30 }
  };
  var exampleSelect = document.getElementById('p-example');
  exampleSelect.innerHTML = '<option value="">(enter below)</option>' + Object.keys(EXAMPLES).map(function (k) {
    return '<option>' + esc(k) + '</option>';
  }).join('');
  function val(id) { return document.getElementById(id).value; }
  function setVal(id, v) { document.getElementById(id).value = v; }
  exampleSelect.addEventListener('change', function () {
    var e = EXAMPLES[exampleSelect.value];
    if (!e) return;
    setVal('p-ha-min', e.haMin); setVal('p-ha-max', e.haMax); setVal('p-power', e.power);
    setVal('p-material', e.material); setVal('p-tonnes', e.tonnes); setVal('p-drive', e.drive);
    setVal('p-profile', e.profile); setVal('p-occupation', e.occupation);
    setVal('p-headcount', e.headcount); setVal('p-commute', e.commute);
  });
  // Stored projects the page may see (public ones without a key): picking one fills the form
  // with its first material and occupation, and matches the project as stored (every need)
  // until a field is changed.
  var storedId = null;
  var storedSelect = document.getElementById('p-stored');
  fetch('/projects').then(function (r) { return r.ok ? r.json() : { projects: [] }; }).then(function (b) {
    var list = b.projects || [];
    if (!list.length) return;
    storedSelect.innerHTML = '<option value="">(none)</option>' + list.map(function (p) {
      return '<option value="' + esc(p.id) + '">' + esc(p.name) + '</option>';
    }).join('');
    document.getElementById('p-stored-label').hidden = false;
    storedSelect.addEventListener('change', function () {
      var p = list.filter(function (x) { return String(x.id) === storedSelect.value; })[0];
      storedId = null;
      if (!p) return;
      var n = p.needs || {}, m = (n.materials || [])[0] || {}, o = (n.occupations || [])[0] || {};
      var w = n.weights || {};
      setVal('p-ha-min', n.land_min_ha === undefined ? '' : n.land_min_ha);
      setVal('p-ha-max', n.land_max_ha === undefined ? '' : n.land_max_ha);
      setVal('p-power', n.power_min_mva === undefined ? '' : n.power_min_mva);
      setVal('p-material', m.material || ''); setVal('p-tonnes', m.tonnes_per_year || '');
      setVal('p-drive', m.max_drive_min || 30); setVal('p-profile', m.profile || 'hgv');
      setVal('p-occupation', o.code || ''); setVal('p-headcount', o.headcount || '');
      setVal('p-commute', o.max_commute_min || 30);
      setVal('w-land', w.land === undefined ? 1 : w.land);
      setVal('w-materials', w.materials === undefined ? 1 : w.materials);
      setVal('w-workforce', w.workforce === undefined ? 1 : w.workforce);
      storedId = p.id;
    });
  }).catch(function () {});
  document.getElementById('project-form').addEventListener('input', function (e) {
    if (e.target !== storedSelect) { storedId = null; storedSelect.value = ''; }
  });
  function num(id) { var v = val(id); return v === '' ? null : Number(v); }
  function needs() {
    var n = { weights: { land: num('w-land') || 0, materials: num('w-materials') || 0, workforce: num('w-workforce') || 0 } };
    if (num('p-ha-min') !== null) n.land_min_ha = num('p-ha-min');
    if (num('p-ha-max') !== null) n.land_max_ha = num('p-ha-max');
    if (num('p-power') !== null) n.power_min_mva = num('p-power');
    if (val('p-material')) {
      n.materials = [{ material: val('p-material'), tonnes_per_year: num('p-tonnes'), max_drive_min: num('p-drive'), profile: val('p-profile') }];
    }
    if (val('p-occupation').trim()) {
      n.occupations = [{ code: val('p-occupation').trim(), headcount: num('p-headcount'), max_commute_min: num('p-commute') }];
    }
    return n;
  }
  function bar(score, cls) {
    return '<div class="bar' + (cls ? ' ' + cls : '') + '"><span style="width:' +
      Math.round(Math.max(0, Math.min(1, score)) * 100) + '%"></span></div>';
  }
  function showMatches(fc) {
    clearSelection();
    var list = document.getElementById('matches');
    list.innerHTML = '';
    var drawn = [];
    var lines = 0;
    (fc.features || []).forEach(function (f, i) {
      var p = f.properties || {};
      var layer = p.site_layer;
      var key = { source: 'terriens', sourceLayer: layer, id: f.id };
      map.setFeatureState(key, { selected: true });
      selected.push(key);
      var at = anchorOf(f.geometry);
      if (at) drawn.push({ type: 'Feature', properties: { kind: 'hit' }, geometry: { type: 'Point', coordinates: at } });
      ((p.impact && p.impact.materials) || []).forEach(function (m) {
        (m.suppliers || []).forEach(function (s) {
          if (!s.position || !at) return;
          drawn.push({ type: 'Feature', properties: { kind: 'supply' }, geometry: { type: 'LineString', coordinates: [s.position, at] } });
          drawn.push({ type: 'Feature', properties: { kind: 'supplier' }, geometry: { type: 'Point', coordinates: s.position } });
          lines++;
        });
      });
      var crit = (p.criteria || []).map(function (c) {
        var label = c.criterion === 'land' ? 'land' : (c.material || c.occupation || c.criterion);
        return '<div class="crit"><span>' + esc(label) + '</span>' + bar(c.score) +
          '<span>' + Math.round(c.score * 100) + '%</span></div>';
      }).join('');
      var li = document.createElement('li');
      li.className = 'match';
      li.innerHTML = '<div class="title">' + esc(layer) + ' #' + esc(f.id) + (p.name ? ' ' + esc(p.name) : '') +
        ' — ' + Math.round((p.score || 0) * 100) + '%</div>' + bar(p.score || 0, 'total') + crit +
        '<details><summary>why</summary><ul>' + (p.reasons || []).map(function (r) {
          return '<li>' + esc(r) + '</li>';
        }).join('') + '</ul></details>';
      if (at) li.addEventListener('click', function (e) {
        if (e.target.closest('details')) return;
        map.flyTo({ center: at, zoom: Math.max(map.getZoom(), 13) });
      });
      list.appendChild(li);
    });
    // Ready again once the map has drawn the matches (the next idle).
    status.ready = false;
    map.getSource('search').setData({ type: 'FeatureCollection', features: drawn });
    map.triggerRepaint();
    status.matches = (fc.features || []).length;
    status.supplyLines = lines;
    status.selected = selected.map(function (s) { return s.id; });
    document.getElementById('project-status').textContent = (fc.numberMatched || 0) +
      ' site(s) pass every constraint; the best ' + (fc.features || []).length + ' shown';
  }
  document.getElementById('project-form').addEventListener('submit', function (e) {
    e.preventDefault();
    document.getElementById('project-status').textContent = 'matching…';
    var lang = { 'accept-language': document.documentElement.lang || 'en' };
    var asked = storedId !== null
      ? fetch('/projects/' + storedId + '/matches?limit=10', { headers: lang })
      : fetch('/match?limit=10', {
        method: 'POST',
        headers: Object.assign({ 'content-type': 'application/json' }, lang),
        body: JSON.stringify(needs())
      });
    asked.then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) throw new Error((b.param ? b.param + ': ' : '') + (b.detail || ('HTTP ' + r.status)));
        return b;
      });
    }).then(showMatches).catch(function (err) {
      status.matchError = err.message;
      document.getElementById('project-status').textContent = 'match failed: ' + err.message;
    });
  });
})();
