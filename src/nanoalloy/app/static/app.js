// nanoalloy serve: plots, drag and drop, job progress, ion patterns. No external resources.
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  function fmt(v, d) { return (v === null || v === undefined || !isFinite(v)) ? '' : Number(v).toFixed(d); }

  // ---- plots: every div.plot is drawn from the JSON in its data-fig script
  function drawPlots() {
    if (typeof Plotly === 'undefined') { return; }
    document.querySelectorAll('div.plot').forEach(function (div) {
      var src = $(div.getAttribute('data-fig'));
      if (!src) { return; }
      var fig = JSON.parse(src.textContent);
      Plotly.newPlot(div, fig.data, fig.layout, {displaylogo: false, responsive: true, scrollZoom: false});
    });
  }

  // ---- drag and drop onto the upload form
  function dropZone() {
    var zone = $('drop'), input = $('spectra'), list = $('drop-list');
    if (!zone || !input) { return; }
    function show() {
      list.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(', ');
    }
    ['dragenter', 'dragover'].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add('over'); });
    });
    ['dragleave', 'drop'].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove('over'); });
    });
    zone.addEventListener('drop', function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
    });
    input.addEventListener('change', show);
  }

  // ---- a queued or running job: poll until it ends, then reload
  function pollJob() {
    var box = $('job');
    if (!box) { return; }
    var state = box.getAttribute('data-state');
    if (state !== 'queued' && state !== 'running') { return; }
    var api = box.getAttribute('data-api');
    function tick() {
      fetch(api, {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (j) {
        if (j.state !== 'queued' && j.state !== 'running') { window.location.reload(); return; }
        var bar = $('progress-bar'), stage = $('job-stage'), st = $('job-state');
        if (bar) { bar.style.width = Math.round(100 * j.progress) + '%'; }
        if (stage) { stage.textContent = j.stage || 'waiting for a worker'; }
        if (st) { st.textContent = j.state; st.className = 'state ' + j.state; }
        setTimeout(tick, 700);
      }).catch(function () { setTimeout(tick, 2000); });
    }
    setTimeout(tick, 500);
  }

  // ---- history: refresh while something runs
  function pollHistory() {
    if (document.body.getAttribute('data-page') !== 'jobs') { return; }
    var live = document.querySelectorAll('tr[data-state="queued"], tr[data-state="running"]');
    if (!live.length) { return; }
    function tick() {
      fetch('/api/jobs', {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (jobs) {
        var changed = jobs.some(function (j) {
          var row = document.querySelector('tr[data-job="' + j.id + '"]');
          return !row || row.getAttribute('data-state') !== j.state;
        });
        if (changed) { window.location.reload(); } else { setTimeout(tick, 1000); }
      }).catch(function () { setTimeout(tick, 2000); });
    }
    setTimeout(tick, 1000);
  }

  // ---- ions: click a marker, an ion row or a species row -> pattern overlay and facts
  function columns(table) {
    var idx = {};
    table.querySelectorAll('thead th').forEach(function (th, i) { idx[th.textContent.trim()] = i; });
    return idx;
  }
  function cellNum(td) { var v = td.getAttribute('data-v'); return parseFloat(v === null ? td.textContent : v); }

  function strongestIon(species) {
    var t = $('ions');
    if (!t) { return null; }
    var c = columns(t), best = null, bestI = -Infinity;
    Array.prototype.forEach.call(t.tBodies[0].rows, function (r) {
      if (r.cells[c.species].textContent === species) {
        var v = cellNum(r.cells[c.intensity]);
        if (v > bestI) { bestI = v; best = r.cells[c.ion].textContent; }
      }
    });
    return best;
  }

  function select(table, text, col) {
    if (!table) { return; }
    var c = columns(table)[col];
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.classList.toggle('selected', r.cells[c].textContent === text);
    });
  }

  function showIon(ion) {
    var box = $('job'), div = $('spectrum');
    if (!box || !ion) { return; }
    var url = box.getAttribute('data-ion-api') + '?ion=' + encodeURIComponent(ion);
    fetch(url, {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (d) {
      var info = $('ion-info'), err = $('ion-error');
      info.hidden = false;
      if (d.error) { err.hidden = false; err.textContent = d.error; return; }
      err.hidden = true;
      $('ion-name').textContent = d.ion;
      $('ion-species').textContent = d.species + (d.family ? ' (' + d.family + ')' : '');
      $('ion-charge').textContent = d.charge;
      $('ion-mz').textContent = fmt(d.mz, 4);
      $('ion-mzobs').textContent = fmt(d.mz_observed, 4);
      $('ion-ppm').textContent = fmt(d.ppm_error, 2);
      $('ion-int').textContent = Number(d.intensity).toPrecision(4);
      var p = $('ion-partners');
      p.textContent = '';
      if (!d.partners.length) { p.textContent = 'none'; }
      d.partners.forEach(function (q, i) {
        var a = document.createElement('a');
        a.href = '#'; a.textContent = q.ion; a.className = 'partner';
        a.addEventListener('click', function (e) { e.preventDefault(); showIon(q.ion); });
        if (i) { p.appendChild(document.createTextNode('; ')); }
        p.appendChild(a);
        if (!(q.intensity > 0)) { p.appendChild(document.createTextNode(' (not in the fit)')); }
      });
      $('ion-share').textContent = fmt(100 * d.ambiguity_share, 1) + ' % of the signal here goes to partners';
      select($('ions'), d.ion, 'ion');
      select($('species'), d.species, 'species');
      if (!div || !div.data) { return; }
      var keep = [];
      div.data.forEach(function (t, i) { if (String(t.name).indexOf('pattern') === 0) { keep.push(i); } });
      if (keep.length) { Plotly.deleteTraces(div, keep); }
      Plotly.addTraces(div, [{x: d.pattern.mz, y: d.pattern.y, mode: 'lines', name: 'pattern ' + d.ion,
        line: {color: '#2ca02c', width: 2}, hoverinfo: 'x+y'}]);
      Plotly.relayout(div, {'xaxis.range': d.view.x, 'yaxis.range': d.view.y});
    }).catch(function (e) { var err = $('ion-error'); err.hidden = false; err.textContent = String(e); });
  }

  function ionClicks() {
    var box = $('job');
    if (!box || box.getAttribute('data-kind') !== 'assign') { return; }
    var ions = $('ions'), species = $('species'), div = $('spectrum');
    if (ions) {
      var ci = columns(ions).ion;
      ions.tBodies[0].addEventListener('click', function (e) {
        var r = e.target.closest('tr');
        if (r) { showIon(r.cells[ci].textContent); }
      });
    }
    if (species) {
      var cs = columns(species).species;
      species.tBodies[0].addEventListener('click', function (e) {
        var r = e.target.closest('tr');
        if (r) { showIon(strongestIon(r.cells[cs].textContent)); }
      });
    }
    if (div && div.on) {
      div.on('plotly_click', function (ev) {
        var pt = ev.points && ev.points[0];
        if (!pt || String(pt.data.name).indexOf('ions') !== 0) { return; }
        var ht = Array.isArray(pt.data.hovertext) ? pt.data.hovertext[pt.pointIndex] : pt.hovertext;
        var m = /<b>(.*?)<\/b>/.exec(ht || '');
        if (m) { var ta = document.createElement('textarea'); ta.innerHTML = m[1]; showIon(ta.value); }
      });
    }
    box.setAttribute('data-ready', '1');
  }

  function status() {
    var s = $('js-status'), errs = window.__nanoalloyErrors || [];
    s.setAttribute('data-errors', String(errs.length));
    s.setAttribute('data-plots', String(document.querySelectorAll('.js-plotly-plot .main-svg').length));
    s.setAttribute('data-done', '1');
    if (errs.length) { s.textContent = errs.join('\n'); s.style.display = 'block'; }
  }

  function start() {
    drawPlots(); dropZone(); pollJob(); pollHistory(); ionClicks();
    setTimeout(status, 0);
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
})();
