// Renders Kurir's API document (openapi.json, beside this page) as a page to read.
//
// Everything is built with DOM calls and text nodes, never from HTML strings,
// and nothing is loaded from anywhere but this server.
"use strict";

(function () {
  const METHODS = ["get", "post", "put", "patch", "delete"];

  /** An element with attributes and children (strings become text). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  /** Text with `code` spans, as inline nodes. */
  function inline(text) {
    return String(text)
      .split("`")
      .map((part, index) => (index % 2 === 1 ? el("code", {}, part) : part))
      .filter((part) => part !== "");
  }

  /** Paragraphs (separated by blank lines) with `code` spans. */
  function prose(text) {
    if (!text) return [];
    return text.split(/\n\s*\n/).map((paragraph) => el("p", {}, inline(paragraph.trim())));
  }

  function json(value) {
    return JSON.stringify(value, null, 2);
  }

  function main(doc) {
    const schemas = (doc.components && doc.components.schemas) || {};

    function resolve(schema) {
      let current = schema || {};
      for (let depth = 0; current.$ref && depth < 10; depth += 1) {
        const name = current.$ref.split("/").pop();
        current = schemas[name] || {};
      }
      return current;
    }

    function typeName(schema) {
      const resolved = resolve(schema);
      if (resolved.anyOf) {
        return [...new Set(resolved.anyOf.map(typeName))].join(" or ");
      }
      if (resolved.enum) {
        return "one of " + resolved.enum.map((value) => JSON.stringify(value)).join(", ");
      }
      if (resolved.const !== undefined) return JSON.stringify(resolved.const);
      if (resolved.type === "array") return "array of " + typeName(resolved.items);
      return resolved.type || "any";
    }

    function range(low, high, unit) {
      if (low !== undefined && high !== undefined) return `${low} to ${high} ${unit}`;
      if (high !== undefined) return `at most ${high} ${unit}`;
      if (low !== undefined) return `at least ${low} ${unit}`;
      return null;
    }

    /** The limits a schema states, in words. */
    function rules(schema) {
      const resolved = resolve(schema);
      const found = [];
      let minLength = resolved.minLength;
      if (resolved.pattern === "\\S") {
        found.push("not blank");
        if (minLength === 1) minLength = undefined; // said by "not blank"
      } else if (resolved.pattern) {
        found.push(`matches ${resolved.pattern}`);
      }
      found.push(range(minLength, resolved.maxLength, "characters"));
      found.push(range(resolved.minItems, resolved.maxItems, "items"));
      if (resolved.minimum !== undefined || resolved.maximum !== undefined) {
        found.push(range(resolved.minimum, resolved.maximum, "").trim());
      }
      if (resolved.format) found.push(`format ${resolved.format}`);
      if (resolved.default !== undefined && resolved.default !== null) {
        found.push(`default ${JSON.stringify(resolved.default)}`);
      }
      if (resolved.type === "array" && resolved.items) {
        const each = rules(resolved.items);
        if (each.length) found.push(`each: ${each.join(", ")}`);
      }
      return found.filter(Boolean);
    }

    /** The object a property holds, if any: itself, its items, or a branch of anyOf. */
    function nested(schema) {
      const resolved = resolve(schema);
      if (resolved.properties) return { schema: resolved, suffix: "." };
      if (resolved.type === "array" && resolved.items) {
        const inner = nested(resolved.items);
        return inner && { schema: inner.schema, suffix: "[]." };
      }
      for (const branch of resolved.anyOf || []) {
        const inner = nested(branch);
        if (inner) return inner;
      }
      return null;
    }

    function fieldRows(schema, prefix, depth) {
      const resolved = resolve(schema);
      const required = new Set(resolved.required || []);
      const rows = [];
      for (const [name, property] of Object.entries(resolved.properties || {})) {
        const path = prefix + name;
        const notes = rules(property);
        const examples = property.examples || [];
        rows.push(
          el(
            "tr",
            {},
            el("td", {}, el("code", {}, path)),
            el("td", { class: "type" }, typeName(property)),
            el("td", {}, required.has(name) ? "required" : "optional"),
            el(
              "td",
              {},
              inline(property.description || resolve(property).description || ""),
              notes.length ? el("div", { class: "rules" }, notes.join("; ")) : null,
              examples.length
                ? el(
                    "div",
                    { class: "examples" },
                    "e.g. ",
                    examples.map((value, index) => [
                      index ? ", " : "",
                      el("code", {}, JSON.stringify(value)),
                    ]),
                  )
                : null,
            ),
          ),
        );
        const inner = nested(property);
        if (inner && depth < 4) rows.push(...fieldRows(inner.schema, path + inner.suffix, depth + 1));
      }
      return rows;
    }

    function fieldTable(schema) {
      const rows = fieldRows(schema, "", 0);
      if (!rows.length) return null;
      return el(
        "table",
        { class: "fields" },
        el("thead", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, ""), el("th", {}, "meaning"))),
        el("tbody", {}, rows),
      );
    }

    function parameterTable(parameters) {
      return el(
        "table",
        { class: "fields" },
        el("thead", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "meaning"))),
        el(
          "tbody",
          {},
          parameters.map((parameter) => {
            const notes = rules(parameter.schema);
            return el(
              "tr",
              {},
              el("td", {}, el("code", {}, parameter.name)),
              el("td", {}, parameter.in + (parameter.required ? ", required" : "")),
              el("td", { class: "type" }, typeName(parameter.schema)),
              el(
                "td",
                {},
                inline(parameter.description || ""),
                notes.length ? el("div", { class: "rules" }, notes.join("; ")) : null,
                parameter.example !== undefined
                  ? el("div", { class: "examples" }, "e.g. ", el("code", {}, String(parameter.example)))
                  : null,
              ),
            );
          }),
        ),
      );
    }

    function curl(method, path, operation) {
      let target = path;
      for (const parameter of operation.parameters || []) {
        if (parameter.in === "path") target = target.replace(`{${parameter.name}}`, String(parameter.example));
      }
      const lines = [`curl -X ${method.toUpperCase()} '${window.location.origin}${target}'`];
      if ((operation.security || []).length) lines.push("  -H 'Authorization: YOUR_API_KEY'");
      const body = operation.requestBody && operation.requestBody.content["application/json"];
      if (body && body.example !== undefined) {
        lines.push("  -H 'Content-Type: application/json'");
        lines.push(`  -d '${JSON.stringify(body.example).replaceAll("'", "'\\''")}'`);
      }
      return lines.join(" \\\n");
    }

    function errorTable(responses) {
      const rows = [];
      for (const [status, response] of Object.entries(responses)) {
        if (status.startsWith("2")) continue;
        const content = (response.content || {})["application/json"] || {};
        const messages = Object.values(content.examples || {}).map((example) => example.value.message);
        const headers = Object.keys(response.headers || {});
        rows.push(
          el(
            "tr",
            {},
            el("td", { class: "status" }, status),
            el(
              "td",
              {},
              inline(response.description || ""),
              headers.length ? el("div", { class: "rules" }, "with " + headers.join(", ")) : null,
            ),
            el("td", {}, el("ul", { class: "messages" }, messages.map((message) => el("li", {}, el("code", {}, message))))),
          ),
        );
      }
      if (!rows.length) return null;
      return el(
        "table",
        { class: "errors" },
        el("thead", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "when"), el("th", {}, "messages, for example"))),
        el("tbody", {}, rows),
      );
    }

    function operationSection(method, path, operation) {
      const id = operation.operationId || `${method}-${path}`;
      const parts = [
        el("h3", {}, el("span", { class: `method ${method}` }, method.toUpperCase()), " ", el("code", { class: "path" }, path)),
        el("p", { class: "summary" }, inline(operation.summary || "")),
        prose(operation.description),
        el(
          "p",
          { class: "auth" },
          (operation.security || []).length ? "Needs your API key in the Authorization header." : "Needs no key.",
        ),
      ];
      if ((operation.parameters || []).length) {
        parts.push(el("h4", {}, "Parameters"), parameterTable(operation.parameters));
      }
      const body = operation.requestBody;
      if (body) {
        const types = Object.keys(body.content);
        const jsonBody = body.content["application/json"] || body.content[types[0]];
        parts.push(
          el("h4", {}, "Request body"),
          el("p", {}, inline(body.description || ""), " ", types.map((type, index) => [index ? ", " : "", el("code", {}, type)])),
          fieldTable(jsonBody.schema),
        );
        if (jsonBody.example !== undefined) parts.push(el("pre", {}, json(jsonBody.example)));
      }
      parts.push(el("h4", {}, "Example"), el("pre", {}, curl(method, path, operation)));
      const success = (operation.responses || {})["200"];
      if (success) {
        const [type, content] = Object.entries(success.content || {})[0] || [];
        parts.push(el("h4", {}, "Answer: 200"), el("p", {}, inline(success.description || ""), " ", type ? el("code", {}, type) : null));
        if (content && content.schema && resolve(content.schema).properties) parts.push(fieldTable(content.schema));
        if (content && content.example !== undefined) {
          parts.push(el("pre", {}, typeof content.example === "string" ? content.example : json(content.example)));
        }
      }
      const errors = errorTable(operation.responses || {});
      if (errors) parts.push(el("h4", {}, "Errors"), errors);
      return el("section", { class: "operation", id }, parts);
    }

    const content = document.getElementById("content");
    const nav = document.getElementById("nav");
    const info = doc.info || {};
    content.replaceChildren(
      el("h1", {}, `${info.title || "API"} `, el("span", { class: "version" }, info.version || "")),
      ...prose(info.description),
    );
    for (const scheme of Object.values((doc.components || {}).securitySchemes || {})) {
      content.append(el("h2", { id: "authentication" }, "Authentication"), ...prose(scheme.description));
    }
    nav.replaceChildren(el("p", { class: "title" }, info.title || "API"), el("a", { href: "openapi.json" }, "openapi.json"));

    const byTag = new Map((doc.tags || []).map((tag) => [tag.name, []]));
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        const operation = item[method];
        if (!operation) continue;
        const tag = (operation.tags || ["Other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([method, path, operation]);
      }
    }
    for (const [tag, operations] of byTag) {
      if (!operations.length) continue;
      const tagId = `tag-${tag.toLowerCase().replaceAll(/[^a-z0-9]+/g, "-")}`;
      content.append(el("h2", { id: tagId }, tag));
      const links = [];
      for (const [method, path, operation] of operations) {
        const section = operationSection(method, path, operation);
        content.append(section);
        links.push(
          el("li", {}, el("a", { href: `#${section.id}` }, el("span", { class: `method ${method}` }, method.toUpperCase()), " ", path)),
        );
      }
      nav.append(el("h2", {}, el("a", { href: `#${tagId}` }, tag)), el("ul", {}, links));
    }
    if (window.location.hash) {
      const target = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  async function load() {
    const status = document.getElementById("status");
    try {
      const response = await fetch("openapi.json", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`openapi.json answered ${response.status}`);
      main(await response.json());
    } catch (error) {
      status.replaceChildren(`The API document could not be shown: ${error.message}`);
    }
  }

  load();
})();
