// The status page: reads the agent's own JSON API (docs/http-api.md) and
// redraws every few seconds. Read-only: it sends GET requests only.
"use strict";

const POLL_MS = 2000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function get(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error) || `${path}: HTTP ${r.status}`);
  return body;
}

function checksCell(checks) {
  if (!checks || checks.length === 0) return el("td", { class: "quiet" }, "none");
  const td = el("td");
  for (const c of checks) {
    td.append(el("div", {}, el("span", { class: c.status }, c.status), " ", c.id));
    if (c.output) td.append(el("pre", {}, c.output));
  }
  return td;
}

function serviceBlock(svc, instances) {
  const div = el("div", { class: "service", "data-service": svc.name });
  div.append(el("h3", {}, svc.name, " ",
    el("span", { class: "quiet" },
      `${svc.instances} instances: ${svc.passing} passing, ${svc.warning} warning, ${svc.critical} critical`)));
  const table = el("table", {}, el("thead", {}, el("tr", {},
    ...["id", "node", "address", "port", "tags", "health", "checks"].map((h) => el("th", {}, h)))));
  const body = el("tbody");
  for (const i of instances) {
    body.append(el("tr", { "data-instance": i.id },
      el("td", {}, i.id), el("td", {}, i.node), el("td", {}, i.address), el("td", {}, i.port),
      el("td", {}, (i.tags || []).join(", ")), el("td", { class: i.health }, i.health),
      checksCell(i.checks)));
  }
  table.append(body);
  div.append(table);
  return div;
}

async function drawServices() {
  const services = await get("/v1/services");
  const blocks = await Promise.all(services.map(async (svc) => {
    try {
      return serviceBlock(svc, await get(`/v1/services/${encodeURIComponent(svc.name)}`));
    } catch (e) {
      return serviceBlock(svc, []); // deregistered between the two requests
    }
  }));
  const target = document.getElementById("services");
  target.replaceChildren(...(blocks.length ? blocks : [el("p", { class: "quiet" }, "no services")]));
}

async function drawMembers() {
  const members = await get("/v1/members");
  const body = document.querySelector("#members tbody");
  body.replaceChildren(...members.map((m) => el("tr", {},
    el("td", {}, m.name), el("td", {}, m.address), el("td", {}, m.datacenter),
    el("td", { class: m.state }, m.state), el("td", {}, m.incarnation))));
}

async function drawAgent() {
  const a = await get("/v1/agent");
  document.getElementById("agent").textContent = `${a.name || ""} · ${a.datacenter || ""} · ${a.version || ""}`;
}

async function refresh() {
  try {
    await Promise.all([drawServices(), drawMembers()]);
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    document.getElementById("updated").textContent = `update failed: ${e.message}`;
  }
  setTimeout(refresh, POLL_MS);
}

function recordRows(section, records) {
  return records.map((r) => el("tr", {}, el("td", {}, section), el("td", {}, r.name),
    el("td", {}, r.ttl), el("td", {}, r.type), el("td", {}, r.data)));
}

async function lookup(event) {
  event.preventDefault();
  const name = document.getElementById("lookup-name").value.trim();
  const type = document.getElementById("lookup-type").value;
  const out = document.getElementById("lookup-result");
  try {
    const r = await get(`/v1/dns/lookup?name=${encodeURIComponent(name)}&type=${encodeURIComponent(type)}`);
    const table = el("table", { id: "lookup-records" }, el("thead", {}, el("tr", {},
      ...["section", "name", "ttl", "type", "data"].map((h) => el("th", {}, h)))));
    const body = el("tbody");
    body.append(...recordRows("answer", r.answer), ...recordRows("authority", r.authority),
      ...recordRows("additional", r.additional));
    table.append(body);
    out.replaceChildren(el("p", { id: "lookup-status" }, `${r.rcode}`,
      r.flags.length ? ` (${r.flags.join(" ")})` : ""), table);
  } catch (e) {
    out.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

document.getElementById("lookup").addEventListener("submit", lookup);
drawAgent().catch(() => {});
refresh();
