// Live updates of one deploy page: new log lines, state, stages and warnings, without a reload.
// Server-sent events first; if the browser lacks them or the stream keeps failing, polling
// of the JSON API takes over. Both follow a deploy until it is settled: final, and no old
// container of it left draining (their stop, and a warning, come after the final state).
// Every value is inserted as text, never as HTML.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log) { return; }
  var next = parseInt(log.dataset.next, 10) || 0;
  var liveStatus = document.getElementById("live-status");
  var POLL_MS = 2000;

  function setStatus(text, done) {
    liveStatus.textContent = text;
    liveStatus.classList.toggle("done", Boolean(done));
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function append(start, lines) {
    var skip = next - start;  // lines already shown (a resumed stream may repeat some)
    if (skip < 0 || skip >= lines.length) { return; }
    var stick = nearBottom();
    log.appendChild(document.createTextNode(lines.slice(skip).join("\n") + "\n"));
    next = start + lines.length;
    if (stick) { log.scrollTop = log.scrollHeight; }
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) {
      var span = document.createElement("span");
      span.className = className;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) { node.textContent = text; }
  }

  function render(deploy) {
    var badge = document.querySelector("#deploy-state .state");
    badge.className = "state state-" + deploy.state;
    badge.textContent = deploy.state.replace(/_/g, " ");
    setText("deploy-started", deploy.started_at);
    setText("deploy-finished", deploy.finished_at);
    setText("deploy-duration", deploy.duration);
    setText("deploy-restored", deploy.restored_backup || "-");
    setText("deploy-database", deploy.database || "-");
    setText("deploy-kept", deploy.kept_database || "-");
    document.getElementById("deploy-error").hidden = !deploy.error;
    setText("deploy-error-text", deploy.error || "");
    setText("deploy-failed-stage", deploy.blocked_by ? "blocked by " + deploy.blocked_by
      : deploy.failed_stage ? deploy.failed_stage + " failed" : "failed");
    setText("deploy-waiting", deploy.waiting_for || "-");
    var warnings = document.createDocumentFragment();
    deploy.warnings.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      warnings.appendChild(item);
    });
    document.getElementById("deploy-warnings-list").replaceChildren(warnings);
    document.getElementById("deploy-warnings").hidden = !deploy.warnings.length;
    if (deploy.final && !deploy.settled) {
      setStatus("finished; old containers draining (" + deploy.draining.join(", ") + ")");
    }
    if (deploy.stages.length) {
      var body = document.getElementById("stages");
      var rows = document.createDocumentFragment();
      deploy.stages.forEach(function (stage) {
        var row = document.createElement("tr");
        cell(row, stage.name);
        cell(row, stage.outcome, "outcome outcome-" + stage.outcome);
        cell(row, stage.started_at);
        cell(row, stage.duration);
        cell(row, stage.detail);
        rows.appendChild(row);
      });
      body.replaceChildren(rows);
    }
  }

  function poll() {
    fetch(log.dataset.poll + "?start=" + next, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        append(data.start, data.lines);
        render(data.deploy);
        if (data.deploy.settled) { setStatus("finished", true); } else { setTimeout(poll, POLL_MS); }
      })
      .catch(function () { setStatus("reconnecting…"); setTimeout(poll, POLL_MS * 2); });
  }

  function stream() {
    var source = new EventSource(log.dataset.stream + "?start=" + next);
    var failures = 0;
    source.onopen = function () { failures = 0; setStatus("live"); };
    source.addEventListener("log", function (event) {
      var data = JSON.parse(event.data);
      append(data.start, data.lines);
    });
    source.addEventListener("deploy", function (event) { render(JSON.parse(event.data)); });
    source.addEventListener("end", function () { source.close(); setStatus("finished", true); });
    source.addEventListener("problem", function (event) {
      var data = JSON.parse(event.data);
      if (!data.retry) { source.close(); setStatus(data.error, true); }
    });
    source.onerror = function () {
      // The server ends each stream after a minute and the browser reconnects by itself;
      // only repeated failures without a successful open mean streaming does not work here.
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 3) {
        source.close();
        setStatus("live (polling)");
        poll();
      }
    };
  }

  if (log.dataset.final === "true") { return; }
  log.scrollTop = log.scrollHeight;
  if (window.EventSource) { stream(); } else { setStatus("live (polling)"); poll(); }
}());
