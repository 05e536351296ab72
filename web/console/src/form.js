// Forms generated from the record schemas the service publishes (GET /openapi.json:
// components "record.<Model>"), so a form cannot drift from what the ledger accepts. Each
// field becomes a labelled control; optional fields left empty are omitted; arrays of objects
// are repeatable groups. The ledger still judges everything: the form only helps.

import { h } from "./dom.js";

const REF = "#/components/schemas/";

export function resolve(components, schema) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 10; i++) s = components[s.$ref.slice(REF.length)];
  return s || {};
}

/** (the non-null alternative, optional) of a schema. */
function unwrap(components, schema) {
  const s = resolve(components, schema);
  if (Array.isArray(s.anyOf)) {
    const alts = s.anyOf.filter((a) => a.type !== "null");
    const nullable = alts.length < s.anyOf.length;
    if (alts.length === 1) return { schema: { ...resolve(components, alts[0]), title: s.title, description: s.description }, nullable };
    return { schema: { ...s, anyOf: alts }, nullable };
  }
  return { schema: s, nullable: false };
}

const label = (name, schema) => schema.title || name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
let uid = 0;
const nextId = (path) => `f-${path.replace(/[^A-Za-z0-9]+/g, "-")}-${++uid}`;

/** A control for one field: returns {el, read(), set(value), focus()}; read() gives
 * undefined for an empty optional field, and throws FieldError for an unreadable value. */
export class FieldError extends Error {
  constructor(path, message, control) {
    super(`${path}: ${message}`);
    this.path = path;
    this.control = control;
  }
}

function scalar(components, name, path, schema, required, value) {
  const id = nextId(path);
  const hintId = `${id}-hint`;
  const hints = [];
  if (schema.description) hints.push(schema.description.split("\n")[0]);
  let control;
  let kind = schema.type;
  if (Array.isArray(schema.anyOf)) kind = "mixed"; // number or string (a characteristic's value)
  if (schema.enum) {
    control = h("select", { id, name: path, "aria-describedby": hints.length ? hintId : null },
      h("option", { value: "" }, required ? "(choose)" : "(none)"),
      schema.enum.map((v) => h("option", { value: v }, String(v))));
  } else if (kind === "boolean") {
    control = h("select", { id, name: path },
      h("option", { value: "" }, required ? "(choose)" : "(not stated)"),
      h("option", { value: "true" }, "yes"), h("option", { value: "false" }, "no"));
  } else if (kind === "integer" || kind === "number") {
    control = h("input", { id, name: path, type: "text", inputmode: "decimal", autocomplete: "off" });
  } else if (schema.format === "date-time") {
    control = h("input", { id, name: path, type: "text", autocomplete: "off", placeholder: "2026-11-30T14:00:00Z", spellcheck: "false" });
    hints.push("UTC, ISO 8601, e.g. 2026-11-30T14:00:00Z");
  } else if ((schema.maxLength || 0) > 200) {
    control = h("textarea", { id, name: path, rows: 3 });
  } else {
    control = h("input", { id, name: path, type: "text", autocomplete: "off", spellcheck: "false" });
  }
  if (required) control.setAttribute("aria-required", "true");
  if (hints.length) control.setAttribute("aria-describedby", hintId);
  const el = h("div", { class: "field" },
    h("label", { for: id }, label(name, schema), required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    control,
    hints.length ? h("p", { class: "hint", id: hintId }, hints.join(" ")) : null);
  const f = {
    el,
    control,
    set(v) {
      control.value = v === undefined || v === null ? "" : String(v);
    },
    read() {
      const raw = control.value.trim();
      if (raw === "") {
        if (required) throw new FieldError(path, "required", control);
        return undefined;
      }
      if (kind === "boolean") return raw === "true";
      if (kind === "integer" || kind === "number") {
        const n = Number(raw);
        if (!Number.isFinite(n) || (kind === "integer" && !Number.isInteger(n))) {
          throw new FieldError(path, `expected a${kind === "integer" ? "n integer" : " number"}`, control);
        }
        return n;
      }
      if (kind === "mixed") {
        const n = Number(raw);
        return Number.isFinite(n) && /^-?[0-9.eE+-]+$/.test(raw) ? n : raw;
      }
      return control.value;
    },
    focus: () => control.focus(),
  };
  if (value !== undefined) f.set(value);
  else if (schema.default !== undefined && schema.default !== null && typeof schema.default !== "object") f.set(schema.default);
  return f;
}

function stringList(name, path, schema, required, value) {
  const id = nextId(path);
  const control = h("textarea", { id, name: path, rows: 2, spellcheck: "false", "aria-describedby": `${id}-hint`, "aria-required": required ? "true" : null });
  const el = h("div", { class: "field" },
    h("label", { for: id }, label(name, schema), required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    control, h("p", { class: "hint", id: `${id}-hint` }, schema.description ? `${schema.description.split("\n")[0]} One per line.` : "One per line."));
  const f = {
    el,
    control,
    set(v) { control.value = Array.isArray(v) ? v.join("\n") : ""; },
    read() {
      const items = control.value.split("\n").map((x) => x.trim()).filter(Boolean);
      if (!items.length) {
        if (required) throw new FieldError(path, "required", control);
        return undefined;
      }
      return items;
    },
    focus: () => control.focus(),
  };
  if (value !== undefined) f.set(value);
  return f;
}

function jsonField(name, path, schema, required, value) {
  const id = nextId(path);
  const control = h("textarea", { id, name: path, rows: 3, spellcheck: "false", "aria-describedby": `${id}-hint`, "aria-required": required ? "true" : null });
  const el = h("div", { class: "field" }, h("label", { for: id }, label(name, schema), required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null), control,
    h("p", { class: "hint", id: `${id}-hint` }, "JSON."));
  const f = {
    el, control,
    set(v) { control.value = v === undefined ? "" : JSON.stringify(v, null, 1); },
    read() {
      const raw = control.value.trim();
      if (!raw) {
        if (required) throw new FieldError(path, "required", control);
        return undefined;
      }
      try { return JSON.parse(raw); } catch { throw new FieldError(path, "expected JSON", control); }
    },
    focus: () => control.focus(),
  };
  if (value !== undefined) f.set(value);
  return f;
}

function objectList(components, name, path, schema, required, value) {
  const itemSchema = resolve(components, schema.items);
  const list = h("div", { class: "items" });
  const items = [];
  const add = (v) => {
    const i = items.length;
    const obj = objectField(components, `${label(name, schema)} ${i + 1}`, `${path}.${i}`, itemSchema, true, v, true);
    const remove = h("button", { type: "button", class: "button quiet small" }, `Remove ${label(name, schema).toLowerCase()} ${i + 1}`);
    const box = h("div", { class: "item" }, obj.el, remove);
    const entry = { obj, box };
    remove.addEventListener("click", () => {
      items.splice(items.indexOf(entry), 1);
      box.remove();
    });
    items.push(entry);
    list.append(box);
    return obj;
  };
  const addButton = h("button", { type: "button", class: "button small" }, `Add ${label(name, schema).toLowerCase().replace(/s$/, "")}`);
  addButton.addEventListener("click", () => add().focus());
  const el = h("fieldset", { class: "group" }, h("legend", {}, label(name, schema)), list, addButton);
  const f = {
    el,
    set(v) {
      items.splice(0).forEach((e) => e.box.remove());
      for (const x of v || []) add(x);
    },
    read() {
      const out = items.map((e) => e.obj.read()).filter((x) => x !== undefined);
      if (!out.length) {
        if (required && (schema.minItems || 0) > 0) throw new FieldError(path, "add at least one", addButton);
        return required ? [] : undefined;
      }
      return out;
    },
    focus: () => (items[0] ? items[0].obj.focus() : addButton.focus()),
    add,
  };
  if (value !== undefined) f.set(value);
  else if (required && (schema.minItems || 0) > 0) add();
  return f;
}

/** A field for ``schema`` named ``name`` at ``path``. ``force``: required although the
 * schema lets it be null (a workflow step's own fields, which the step must carry). */
export function field(components, name, path, rawSchema, required, value, force = false) {
  const { schema, nullable } = unwrap(components, rawSchema);
  const req = required && (!nullable || force);
  if (schema.type === "object" || schema.properties) {
    if (!schema.properties) return jsonField(name, path, schema, req, value);
    return objectField(components, label(name, schema), path, schema, req, value, false, nullable || !required);
  }
  if (schema.type === "array") {
    const items = resolve(components, schema.items);
    if (items.type === "object" || items.properties) return objectList(components, name, path, schema, req, value);
    return stringList(name, path, schema, req, value);
  }
  return scalar(components, name, path, schema, req, value);
}

/** An object's fields in a fieldset. ``optional``: an object the record may leave out; its
 * fields are then read only when one of them is filled. ``only``: field names to show.
 * ``mustHave``: names required beyond the schema's (a workflow step's own fields). A read
 * with fields missing or unreadable throws the first FieldError, naming all in ``all``. */
export function objectField(components, title, path, schema, required, value, bare = false, optional = false, only = null, prominent = null, mustHave = null) {
  const req = new Set([...(schema.required || []), ...(mustHave || [])]);
  const fields = {};
  const consts = {};
  const children = [];
  const folded = [];
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const p = resolve(components, prop);
    if (p.const !== undefined) {
      consts[name] = p.const;
      continue;
    }
    if (only && !only.has(name)) continue;
    const f = field(components, name, path ? `${path}.${name}` : name, prop, req.has(name), value ? value[name] : undefined, Boolean(mustHave?.has(name)));
    fields[name] = f;
    const fold = prominent && !req.has(name) && !prominent.has(name) && (value?.[name] === undefined);
    (fold ? folded : children).push(f.el);
  }
  if (folded.length) {
    children.push(h("details", { class: "more" }, h("summary", {}, `More fields (${folded.length}, optional)`),
      h("div", { class: "object" }, folded)));
  }
  const el = bare ? h("div", { class: "object" }, children) : h("fieldset", { class: "group" }, h("legend", {}, title), children);
  return {
    el,
    fields,
    set(v) {
      for (const [k, f] of Object.entries(fields)) f.set(v ? v[k] : undefined);
    },
    read() {
      const out = { ...consts };
      let filled = false;
      const errors = [];
      for (const [k, f] of Object.entries(fields)) {
        try {
          const v = f.read();
          if (v !== undefined) {
            out[k] = v;
            if (!(Array.isArray(v) && !v.length)) filled = true;
          }
        } catch (err) {
          if (!(err instanceof FieldError)) throw err;
          errors.push(...(err.all || [err]));
        }
      }
      if (optional && !filled) return undefined;
      if (errors.length) {
        errors[0].all = errors;
        throw errors[0];
      }
      return out;
    },
    focus: () => Object.values(fields)[0]?.focus(),
  };
}
