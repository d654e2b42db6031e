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
})();
