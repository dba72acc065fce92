/// The chat web page's script (served at `/webui/app.js`).
///
/// Streams answers from `POST /v1/chat/completions` (`stream: true`, fetch + ReadableStream SSE parsing, usage
/// requested for timings), attaches images as `data:` URLs (file picker, drag and drop, paste) and videos as
/// frame lists (frames read in the browser at 2 per second, as `data:` URL JPEGs, because the server decodes
/// video files only from local paths), stops with an AbortController (the server counts the disconnect as a
/// cancelled request), draws grounding boxes over the image at original-image pixels (`x/1000·W`, the rule
/// of `Grounding.pixelPoints`) with hover links between boxes and the text that names them, shows tool calls
/// as cards, and imports/exports conversations in the `qwenvl chat` `/save` format.
enum WebUIScript {
    static let source = #"""
        "use strict";
        (() => {
          const $ = (id) => document.getElementById(id);
          const els = {
            messages: $("messages"), prompt: $("prompt"), send: $("send-button"), stop: $("stop-button"),
            status: $("status"), attachments: $("attachments"), imageInput: $("image-input"), videoInput: $("video-input"),
            importInput: $("import-input"), reattachInput: $("reattach-input"), system: $("system-prompt"), temperature: $("temperature"),
            maxTokens: $("max-tokens"), model: $("model-name"), overlay: $("drop-overlay"),
          };
          const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#0aa6b8", "#d6338a", "#7a9a01",
                           "#b8860b", "#008080"];
          const VIDEO_FPS = 2, VIDEO_MAX_FRAMES = 16, VIDEO_FRAME_SIDE = 448;
          const FIGURE_MIN_WIDTH = 400, FIGURE_MAX_WIDTH = 560, FIGURE_MAX_HEIGHT = 480;

          /** Conversation turns in the `/save` shape ({role, content, tool_calls?, tool_call_id?}) plus a `meta` object. */
          const state = { messages: [], attachments: [], controller: null, modelID: null };

          // ---------- grounding markup (a port of Sources/QwenVL/Grounding.swift) ----------

          const MARKERS = ["<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
            "<|quad_end|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"];

          /** Splits text into plain runs ({text}) and special-token markers ({marker}). */
          function pieces(text) {
            const out = [];
            let pos = 0, textStart = 0;
            for (;;) {
              const open = text.indexOf("<|", pos);
              if (open < 0) break;
              const marker = MARKERS.find((m) => text.startsWith(m, open));
              if (marker) {
                if (textStart < open) out.push({ text: text.slice(textStart, open) });
                out.push({ marker });
                pos = textStart = open + marker.length;
              } else {
                pos = open + 2;
              }
            }
            if (textStart < text.length) out.push({ text: text.slice(textStart) });
            return out;
          }

          /** Parses a box or quad body such as "(10,20),(200,300)": points clamped to [0, 1000], or null. */
          function parseShape(body, kind) {
            let i = 0;
            const atEnd = () => i >= body.length;
            const skipSpace = () => { while (i < body.length && " \t\n\r".includes(body[i])) i++; };
            const consume = (c) => { if (body[i] === c) { i++; return true; } return false; };
            const integer = () => {
              let negative = false;
              if (consume("-")) negative = true; else consume("+");
              let value = 0, digits = 0;
              while (i < body.length && body[i] >= "0" && body[i] <= "9") {
                value = Math.min(value * 10 + (body.charCodeAt(i) - 48), 1000000);
                digits++; i++;
              }
              if (digits === 0) return null;
              if (i < body.length && (body[i] === "." || /[A-Za-z]/.test(body[i]))) return null;
              return negative ? 0 : Math.min(value, 1000);
            };
            const points = [];
            skipSpace();
            while (!atEnd()) {
              if (points.length && consume(",")) skipSpace();
              if (!consume("(")) return null;
              skipSpace();
              const x = integer(); if (x === null) return null;
              skipSpace();
              if (!consume(",")) return null;
              skipSpace();
              const y = integer(); if (y === null) return null;
              skipSpace();
              if (!consume(")")) return null;
              points.push([x, y]);
              skipSpace();
              if (points.length > 4) return null;
            }
            if (kind === "box") {
              if (points.length !== 2) return null;
              const [[a, b], [c, d]] = points;
              return [[Math.min(a, c), Math.min(b, d)], [Math.max(a, c), Math.max(b, d)]];
            }
            return points.length === 4 ? points : null;
          }

          /**
           * Reads model output that still holds the special tokens. Returns the text as a stream shows it (markers
           * removed, label and box bodies kept), the boxes ({label, kind, points}), and marks over that text: label
           * spans ({kind: "ref", boxes}) and box bodies ({kind: "coords", boxes}).
           */
          function parseGrounding(raw) {
            const list = pieces(raw);
            let text = "", label = null, labelMark = null;
            const boxes = [], marks = [];
            const textAt = (k) => (k < list.length && list[k].text !== undefined ? list[k].text : null);
            const markerAt = (k) => (k < list.length ? list[k].marker : undefined);
            let i = 0;
            while (i < list.length) {
              const p = list[i];
              if (p.text !== undefined) {
                if (/[\p{L}\p{N}]/u.test(p.text)) { label = null; labelMark = null; }
                text += p.text; i++;
              } else if (p.marker === "<|object_ref_start|>") {
                const body = textAt(i + 1);
                if (body !== null && markerAt(i + 2) === "<|object_ref_end|>") {
                  const trimmed = body.trim();
                  label = trimmed || null;
                  labelMark = label ? { start: text.length, end: text.length + body.length, kind: "ref", boxes: [] } : null;
                  if (labelMark) marks.push(labelMark);
                  text += body; i += 3;
                } else if (markerAt(i + 1) === "<|object_ref_end|>") {
                  label = null; labelMark = null; i += 2;
                } else {
                  label = null; labelMark = null;
                  if (body !== null) text += body;
                  i += body === null ? 1 : 2;
                }
              } else if (p.marker === "<|box_start|>" || p.marker === "<|quad_start|>") {
                const kind = p.marker === "<|box_start|>" ? "box" : "quad";
                const end = kind === "box" ? "<|box_end|>" : "<|quad_end|>";
                const body = textAt(i + 1);
                if (body !== null && markerAt(i + 2) === end) {
                  const points = parseShape(body, kind);
                  if (points) {
                    const index = boxes.length;
                    boxes.push({ label, kind, points });
                    if (labelMark) labelMark.boxes.push(index);
                    marks.push({ start: text.length, end: text.length + body.length, kind: "coords", boxes: [index] });
                  }
                  text += body; i += 3;
                } else if (markerAt(i + 1) === end) {
                  i += 2;
                } else {
                  if (body !== null) text += body;
                  i += body === null ? 1 : 2;
                }
              } else {
                i++;
              }
            }
            return { text, boxes, marks: marks.filter((m) => m.boxes.length) };
          }

          /**
           * Marks for a streamed answer, whose text lost the special tokens: each box's label and coordinates are
           * looked up in order in the text; a box whose label repeats the previous box's shares its span.
           */
          function locateBoxes(text, boxes) {
            const marks = [];
            const coordsPattern = /\(\s*[-+]?\d+\s*,\s*[-+]?\d+\s*\)(?:\s*,?\s*\(\s*[-+]?\d+\s*,\s*[-+]?\d+\s*\))*/g;
            let cursor = 0, previous = null;
            boxes.forEach((box, index) => {
              coordsPattern.lastIndex = cursor;
              const coords = coordsPattern.exec(text);
              if (box.label) {
                const at = text.indexOf(box.label, cursor);
                if (at >= 0 && (!coords || at < coords.index)) {
                  previous = { start: at, end: at + box.label.length, kind: "ref", boxes: [index], label: box.label };
                  marks.push(previous);
                  cursor = previous.end;
                } else if (previous && previous.label === box.label) {
                  previous.boxes.push(index);
                }
              }
              coordsPattern.lastIndex = cursor;
              const found = coordsPattern.exec(text);
              if (found) {
                marks.push({ start: found.index, end: found.index + found[0].length, kind: "coords", boxes: [index] });
                cursor = found.index + found[0].length;
              }
            });
            return marks;
          }

          /** Boxes of the server's `boxes` field ({label, kind, box: flat points}) as {label, kind, points}. */
          function boxesFromField(field) {
            return (Array.isArray(field) ? field : []).map((b) => {
              const flat = Array.isArray(b.box) ? b.box : [];
              const points = [];
              for (let k = 0; k + 1 < flat.length; k += 2) points.push([flat[k], flat[k + 1]]);
              return { label: b.label ?? null, kind: b.kind === "quad" ? "quad" : "box", points };
            }).filter((b) => b.points.length >= 2);
          }

          // ---------- messages ----------

          /** The parts of a message's content: [{type: "text"|"image"|"video", …}]. */
          function partsOf(message) {
            const c = message.content;
            if (c == null) return [];
            if (typeof c === "string") return [{ type: "text", text: c }];
            if (!Array.isArray(c)) return [];
            return c.map((p) => {
              if (typeof p === "string") return { type: "text", text: p };
              if (!p || typeof p !== "object") return null;
              if (p.type === "text" || (p.type === undefined && typeof p.text === "string")) return { type: "text", text: String(p.text ?? "") };
              const image = p.image ?? p.image_url?.url ?? (typeof p.image_url === "string" ? p.image_url : undefined);
              if (image !== undefined) return { ...p, type: "image", image: String(image) };
              const video = p.video ?? p.video_url?.url ?? (typeof p.video_url === "string" ? p.video_url : undefined);
              if (video !== undefined) return { ...p, type: "video", video };
              return null;
            }).filter(Boolean);
          }

          const textOf = (message) => partsOf(message).filter((p) => p.type === "text").map((p) => p.text).join("");
          const displayable = (src) => typeof src === "string" && /^(data:image\/|blob:)/i.test(src);

          /** The message as the API and the `/save` file hold it (no page-only metadata). */
          function wireMessage(m) {
            const out = { role: m.role, content: m.content };
            for (const key of ["tool_calls", "tool_call_id", "name"]) if (m[key] !== undefined) out[key] = m[key];
            return out;
          }

          /** The last image shown before message `index` (the picture an answer's boxes refer to). */
          function imageBefore(index) {
            for (let k = index; k >= 0; k--) {
              const images = partsOf(state.messages[k]).filter((p) => p.type === "image");
              if (images.length) return images[images.length - 1].image;
            }
            return null;
          }

          function el(tag, attrs = {}, ...children) {
            const node = document.createElement(tag);
            for (const [k, v] of Object.entries(attrs)) {
              if (v === undefined || v === null || v === false) continue;
              if (k === "class") node.className = v;
              else if (k === "text") node.textContent = v;
              else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
              else node.setAttribute(k, v === true ? "" : String(v));
            }
            for (const c of children) if (c != null) node.append(c);
            return node;
          }

          function render() {
            els.messages.replaceChildren(...state.messages.map((m, i) => renderMessage(m, i)));
          }

          function renderMessage(m, index) {
            const li = el("li", { class: `message ${m.role}`, "data-role": m.role, "data-index": index,
                                  "data-state": m.meta?.state ?? "done" });
            if (m.meta?.failed) li.classList.add("failed");
            if (m.meta?.state === "streaming") li.setAttribute("aria-busy", "true");  // read once complete
            const who = { user: "You", assistant: "Assistant", system: "System", tool: "Tool result" }[m.role] ?? m.role;
            li.append(el("span", { class: "who", text: who }));
            const bubble = el("div", { class: "bubble" });
            li.append(bubble);
            fillBubble(bubble, m, index);
            m.meta = m.meta ?? {};
            m.meta.node = li;
            return li;
          }

          function fillBubble(bubble, m, index) {
            bubble.replaceChildren();
            const parts = partsOf(m);
            const media = el("div", { class: "media" });
            parts.forEach((p, k) => {
              if (p.type === "image") media.append(renderImage(p, m, k));
              if (p.type === "video") media.append(renderVideo(p, m, k));
            });
            if (media.childElementCount) bubble.append(media);
            if (m.role === "tool" && m.tool_call_id) bubble.append(el("div", { class: "note", text: `result of ${m.tool_call_id}` }));
            const raw = parts.filter((p) => p.type === "text").map((p) => p.text).join("");
            const textNode = el("p", { class: "text" });
            bubble.append(textNode);
            let boxes = [];
            if (m.role === "assistant") {
              let marks = [];
              if (/<\|(box|quad)_start\|>/.test(raw)) {
                const parsed = parseGrounding(raw);
                boxes = parsed.boxes; marks = parsed.marks;
                fillMarkedText(textNode, parsed.text, marks);
              } else if (m.meta?.boxes?.length) {
                boxes = m.meta.boxes; marks = locateBoxes(raw, boxes);
                fillMarkedText(textNode, raw, marks);
              } else {
                textNode.textContent = raw;
              }
            } else {
              textNode.textContent = raw;
            }
            for (const call of m.tool_calls ?? []) bubble.append(renderToolCall(call));
            if (boxes.length) {
              const src = imageBefore(index);
              if (displayable(src)) bubble.append(renderFigure(src, boxes, index));
              else bubble.append(el("div", { class: "note", text: `${boxes.length} box(es): attach the image to see them drawn` }));
            }
            if (m.meta?.timings) bubble.append(el("div", { class: "timings", text: m.meta.timings }));
            if (m.meta?.error) bubble.append(el("div", { class: "error", role: "alert", text: m.meta.error }));
          }

          /** Fills `node` with `text`, wrapping marked ranges in spans linked to their boxes. */
          function fillMarkedText(node, text, marks) {
            node.replaceChildren();
            let pos = 0;
            for (const mark of [...marks].sort((a, b) => a.start - b.start)) {
              if (mark.start < pos) continue;
              if (mark.start > pos) node.append(text.slice(pos, mark.start));
              const span = el("span", { class: mark.kind, "data-boxes": mark.boxes.join(" "), text: text.slice(mark.start, mark.end) });
              span.style.setProperty("--c", PALETTE[mark.boxes[0] % PALETTE.length]);
              node.append(span);
              pos = mark.end;
            }
            if (pos < text.length) node.append(text.slice(pos));
          }

          function renderImage(part, message, k) {
            if (displayable(part.image)) {
              return el("img", { src: part.image, alt: message.role === "user" ? "attached image" : "image", loading: "lazy" });
            }
            const box = el("div", { class: "placeholder" },
              el("span", { text: `Image not available in the browser: ${String(part.image).slice(0, 120)}` }));
            box.append(el("button", { type: "button", text: "Re-attach…", "aria-label": "Re-attach this image from a file",
              onclick: () => pickFile(async (file) => {
                const url = await readDataURL(file);
                const parts = Array.isArray(message.content) ? message.content : [];
                const target = parts.filter((p) => p && typeof p === "object" && (p.image !== undefined || p.image_url !== undefined))[countImagesBefore(message, k)];
                if (target) {
                  delete target.image_url;
                  target.type = "image"; target.image = url;
                }
                render();
              }) }));
            return box;
          }

          function countImagesBefore(message, k) {
            return partsOf(message).slice(0, k).filter((p) => p.type === "image").length;
          }

          function renderVideo(part) {
            if (Array.isArray(part.video)) {
              const first = part.video.find(displayable);
              const wrap = el("div", { class: "placeholder" });
              if (first) wrap.append(el("img", { src: first, alt: "first video frame" }));
              wrap.append(el("span", { text: `video: ${part.video.length} frames` }));
              return wrap;
            }
            return el("div", { class: "placeholder", text: `Video not available in the browser: ${String(part.video).slice(0, 120)}` });
          }

          function renderToolCall(call) {
            const fn = call.function ?? {};
            let args = fn.arguments ?? "";
            try { args = JSON.stringify(typeof args === "string" ? JSON.parse(args) : args, null, 2); } catch (_) { /* raw text */ }
            return el("section", { class: "tool-call", "aria-label": `Tool call ${fn.name ?? ""}` },
              el("h3", {}, `${fn.name ?? "(unnamed)"}`, el("span", { text: call.id ? `  ${call.id}` : "" })),
              el("pre", { text: String(args) }));
          }

          /** The image with its boxes drawn at original-image pixels (positions are fractions of the natural size). */
          function renderFigure(src, boxes, index) {
            const figure = el("div", { class: "figure", "data-message": index });
            const img = el("img", { src, alt: `image with ${boxes.length} grounding box${boxes.length === 1 ? "" : "es"}` });
            figure.append(img);
            const draw = () => {
              const W = img.naturalWidth, H = img.naturalHeight;
              if (!W || !H) return;
              // Small pictures are enlarged so their boxes are readable; tall ones kept within 480 px of height.
              img.style.width = `${Math.round(Math.min(FIGURE_MAX_WIDTH, FIGURE_MAX_HEIGHT * W / H, Math.max(W, FIGURE_MIN_WIDTH)))}px`;
              figure.dataset.naturalWidth = W; figure.dataset.naturalHeight = H;
              const svgNS = "http://www.w3.org/2000/svg";
              const svg = document.createElementNS(svgNS, "svg");
              svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
              svg.setAttribute("preserveAspectRatio", "none");
              svg.setAttribute("aria-hidden", "true");
              boxes.forEach((b, i) => {
                const px = b.points.map(([x, y]) => [round2(x / 1000 * W), round2(y / 1000 * H)]);
                const color = PALETTE[i % PALETTE.length];
                const xs = px.map((p) => p[0]), ys = px.map((p) => p[1]);
                const [x1, y1, x2, y2] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
                const name = b.label ?? `box ${i + 1}`;
                const div = el("div", {
                  class: b.kind === "quad" ? "box quad-anchor" : "box", tabindex: 0, role: "img",
                  "data-box": i, "data-kind": b.kind, "data-label": b.label ?? "",
                  "data-x1": x1, "data-y1": y1, "data-x2": x2, "data-y2": y2,
                  "data-points": px.map((p) => p.join(",")).join(" "),
                  "aria-label": `${name}: x ${x1}–${x2}, y ${y1}–${y2} pixels`,
                }, el("span", { class: "tag", text: name }));
                div.style.setProperty("--c", color);
                div.style.left = `${x1 / W * 100}%`; div.style.top = `${y1 / H * 100}%`;
                div.style.width = `${(x2 - x1) / W * 100}%`; div.style.height = `${(y2 - y1) / H * 100}%`;
                if (y1 / H < 0.06) div.classList.add("tag-inside");
                if (x1 / W > 0.55) div.classList.add("tag-right");  // keep the label inside the picture's width
                figure.append(div);
                if (b.kind === "quad") {
                  const poly = document.createElementNS(svgNS, "polygon");
                  poly.setAttribute("points", px.map((p) => p.join(",")).join(" "));
                  poly.setAttribute("data-box", i);
                  poly.style.setProperty("--c", color);
                  svg.append(poly);
                }
              });
              figure.append(svg);
            };
            if (img.complete && img.naturalWidth) draw(); else img.addEventListener("load", draw, { once: true });
            return figure;
          }

          const round2 = (v) => Math.round(v * 100) / 100;

          /** Hover or focus on a box or on the text naming it highlights both. */
          function linkHighlights(event, on) {
            const target = event.target instanceof Element ? event.target.closest("[data-box], [data-boxes]") : null;
            if (!target) return;
            const li = target.closest("li.message");
            if (!li) return;
            const ids = (target.dataset.boxes ?? target.dataset.box ?? "").split(" ").filter((s) => s !== "");
            for (const id of ids) {
              li.querySelectorAll(`[data-box="${id}"]`).forEach((n) => n.classList.toggle("active", on));
              li.querySelectorAll("[data-boxes]").forEach((n) => {
                if (n.dataset.boxes.split(" ").includes(id)) n.classList.toggle("active", on);
              });
            }
          }
          els.messages.addEventListener("mouseover", (e) => linkHighlights(e, true));
          els.messages.addEventListener("mouseout", (e) => linkHighlights(e, false));
          els.messages.addEventListener("focusin", (e) => linkHighlights(e, true));
          els.messages.addEventListener("focusout", (e) => linkHighlights(e, false));

          // ---------- attachments ----------

          function readDataURL(file) {
            return new Promise((resolve, reject) => {
              const reader = new FileReader();
              reader.onload = () => resolve(String(reader.result));
              reader.onerror = () => reject(reader.error ?? new Error("cannot read the file"));
              reader.readAsDataURL(file);
            });
          }

          /** Opens the re-attach file picker; `handle` receives the file chosen. */
          let reattach = null;
          function pickFile(handle) {
            reattach = handle;
            els.reattachInput.click();
          }
          els.reattachInput.addEventListener("change", () => {
            const file = els.reattachInput.files?.[0];
            if (file && reattach) reattach(file);
            els.reattachInput.value = "";
          });

          async function addFiles(files) {
            for (const file of files) {
              try {
                if (file.type.startsWith("video/")) await addVideo(file);
                else if (file.type.startsWith("image/") || /\.(jpe?g|png|webp|gif|bmp)$/i.test(file.name)) {
                  state.attachments.push({ kind: "image", name: file.name, url: await readDataURL(file) });
                } else {
                  setStatus(`${file.name}: not an image or a video`);
                }
              } catch (error) {
                setStatus(`${file.name}: ${error.message ?? error}`);
              }
              renderAttachments();
            }
          }

          /** Samples a video in the browser: 2 frames per second (an even count, 4 to 16) as JPEG data URLs. */
          async function addVideo(file) {
            const url = URL.createObjectURL(file);
            try {
              const video = el("video", { muted: true, preload: "auto", src: url });
              await new Promise((resolve, reject) => {
                video.addEventListener("loadeddata", resolve, { once: true });
                video.addEventListener("error", () => reject(new Error("the browser cannot decode this video")), { once: true });
              });
              const duration = Number.isFinite(video.duration) && video.duration > 0 ? video.duration : 1;
              let count = Math.min(VIDEO_MAX_FRAMES, Math.max(4, Math.round(duration * VIDEO_FPS)));
              count += count % 2;
              const scale = Math.min(1, VIDEO_FRAME_SIDE / Math.max(video.videoWidth, video.videoHeight));
              const canvas = el("canvas", { width: Math.max(1, Math.round(video.videoWidth * scale)),
                                            height: Math.max(1, Math.round(video.videoHeight * scale)) });
              const ctx = canvas.getContext("2d");
              const frames = [];
              for (let k = 0; k < count; k++) {
                setStatus(`Reading ${file.name}: frame ${k + 1} of ${count}…`);
                const t = Math.min(duration * (k + 0.5) / count, Math.max(0, duration - 0.001));
                await new Promise((resolve) => {
                  video.addEventListener("seeked", resolve, { once: true });
                  video.currentTime = t;
                });
                ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
                frames.push(canvas.toDataURL("image/jpeg", 0.85));
              }
              state.attachments.push({ kind: "video", name: file.name, frames });
              setStatus(`${file.name}: ${count} frames`);
            } finally {
              URL.revokeObjectURL(url);
            }
          }

          function renderAttachments() {
            els.attachments.replaceChildren(...state.attachments.map((a, i) => el("li", {},
              a.kind === "image" ? el("img", { src: a.url, alt: a.name })
                                 : el("div", { class: "video-thumb", text: `${a.name} · ${a.frames.length} frames` }),
              el("button", { type: "button", text: "×", "aria-label": `Remove ${a.name}`,
                onclick: () => { state.attachments.splice(i, 1); renderAttachments(); els.prompt.focus(); } }))));
          }

          // ---------- sending ----------

          function setStatus(text) { els.status.textContent = text; }
          function setBusy(busy) {
            els.send.hidden = busy; els.stop.hidden = !busy;
            if (!busy && document.activeElement === els.stop) els.prompt.focus();
          }

          function numberSetting(input, parse) {
            const raw = input.value.trim();
            if (raw === "") return undefined;
            const v = parse(raw);
            return Number.isNaN(v) ? raw : v;
          }

          async function send() {
            if (state.controller) return;
            const text = els.prompt.value;
            if (!text.trim() && !state.attachments.length) { setStatus("Type a message or attach an image first."); return; }
            const content = [];
            for (const a of state.attachments) if (a.kind === "image") content.push({ type: "image", image: a.url });
            for (const a of state.attachments) if (a.kind === "video") content.push({ type: "video", video: a.frames });
            if (text) content.push({ type: "text", text });
            const user = { role: "user", content, meta: { draft: { text, attachments: state.attachments } } };
            state.messages.push(user);
            state.attachments = [];
            els.prompt.value = "";
            autoGrow();
            renderAttachments();
            const assistant = { role: "assistant", content: "", meta: { state: "streaming" } };
            state.messages.push(assistant);
            render();
            assistant.meta.node.classList.add("streaming");
            scrollToEnd(true);

            const history = state.messages.filter((m) => m !== assistant && !m.meta?.failed).map(wireMessage);
            const system = els.system.value.trim();
            const body = {
              messages: system ? [{ role: "system", content: system }, ...history] : history,
              stream: true, stream_options: { include_usage: true },
            };
            const temperature = numberSetting(els.temperature, parseFloat);
            const maxTokens = numberSetting(els.maxTokens, (s) => Number(s));
            if (temperature !== undefined) body.temperature = temperature;
            if (maxTokens !== undefined) body.max_tokens = maxTokens;

            const controller = new AbortController();
            state.controller = controller;
            setBusy(true);
            setStatus("Generating… (Escape stops)");
            const t0 = performance.now();
            let tFirst = null, chunks = 0, usage = null, finish = null, toolCalls = [];
            const textNode = assistant.meta.node.querySelector(".text");
            try {
              const response = await fetch("/v1/chat/completions", {
                method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
                signal: controller.signal,
              });
              if (!response.ok) throw new Error(await errorText(response));
              const reader = response.body.getReader();
              const decoder = new TextDecoder();
              let buffer = "";
              const handle = (data) => {
                if (data === "[DONE]") return;
                let event;
                try { event = JSON.parse(data); } catch (_) { return; }
                if (event.error) throw new Error(event.error.message ?? JSON.stringify(event.error));
                if (event.usage) usage = event.usage;
                const choice = event.choices?.[0];
                if (!choice) return;
                const delta = choice.delta ?? {};
                if (typeof delta.content === "string" && delta.content) {
                  tFirst = tFirst ?? performance.now();
                  chunks++;
                  assistant.content += delta.content;
                  textNode.textContent = assistant.content;
                  scrollToEnd(false);
                }
                if (Array.isArray(delta.tool_calls)) {
                  tFirst = tFirst ?? performance.now();
                  for (const d of delta.tool_calls) {
                    const k = d.index ?? 0;
                    const call = toolCalls[k] ?? (toolCalls[k] = { id: d.id, type: "function", function: { name: "", arguments: "" } });
                    if (d.id) call.id = d.id;
                    if (d.function?.name) call.function.name += d.function.name;
                    if (d.function?.arguments) call.function.arguments += d.function.arguments;
                  }
                  assistant.tool_calls = toolCalls.filter(Boolean);
                }
                if (delta.boxes) assistant.meta.boxes = boxesFromField(delta.boxes);
                if (choice.finish_reason) finish = choice.finish_reason;
              };
              for (;;) {
                const { value, done } = await reader.read();
                if (value) buffer += decoder.decode(value, { stream: true });
                let cut;
                while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
                  const block = buffer.slice(0, cut);
                  buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
                  const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
                  if (data) handle(data);
                }
                if (done) break;
              }
              assistant.meta.state = "done";
              assistant.meta.timings = timings(t0, tFirst, performance.now(), usage?.completion_tokens ?? chunks, !usage, finish);
              setStatus("");
            } catch (error) {
              if (error.name === "AbortError") {
                assistant.meta.state = "stopped";
                assistant.meta.timings = timings(t0, tFirst, performance.now(), chunks, true, "stopped");
                setStatus("Stopped.");
              } else {
                const message = error instanceof TypeError ? `Could not reach the server: ${error.message}` : error.message;
                if (!assistant.content && !toolCalls.length) {
                  // Nothing came back: the turn did not happen. Keep it visible with the error, out of the history,
                  // and put the draft back so Enter retries.
                  state.messages.pop();
                  user.meta.failed = true;
                  user.meta.error = message;
                  user.meta.state = "error";
                  if (!els.prompt.value) { els.prompt.value = user.meta.draft.text; autoGrow(); }
                  if (!state.attachments.length) { state.attachments = user.meta.draft.attachments; renderAttachments(); }
                } else {
                  assistant.meta.state = "error";
                  assistant.meta.error = message;
                }
                setStatus(`Error: ${message}`);
              }
            } finally {
              state.controller = null;
              setBusy(false);
              render();
              scrollToEnd(false);
            }
          }

          /** The words of an API error: OpenAI's `error.message`, else the status line and body. */
          async function errorText(response) {
            const body = await response.text().catch(() => "");
            try {
              const parsed = JSON.parse(body);
              if (parsed?.error?.message) return `${parsed.error.message} (HTTP ${response.status})`;
            } catch (_) { /* not JSON */ }
            return `HTTP ${response.status} ${response.statusText}${body ? ": " + body.slice(0, 300) : ""}`;
          }

          /** "first token 0.21 s · 35.2 tok/s · 64 tokens · 2.03 s": tok/s over the tokens after the first. */
          function timings(t0, tFirst, tEnd, tokens, approximate, finish) {
            const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
            const parts = [];
            if (tFirst !== null) parts.push(`first token ${s(tFirst - t0)}`);
            if (tFirst !== null && tokens > 1 && tEnd > tFirst) parts.push(`${((tokens - 1) / ((tEnd - tFirst) / 1000)).toFixed(1)} tok/s`);
            parts.push(`${approximate ? "≈" : ""}${tokens} token${tokens === 1 ? "" : "s"}`);
            parts.push(s(tEnd - t0));
            if (finish && finish !== "stop") parts.push(finish === "length" ? "max tokens reached" : finish);
            return parts.join(" · ");
          }

          function stop() {
            if (state.controller) { state.controller.abort(); setStatus("Stopping…"); }
          }

          function scrollToEnd(force) {
            const nearEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
            if (force || nearEnd) window.scrollTo({ top: document.body.scrollHeight });
          }

          function autoGrow() {
            els.prompt.style.height = "auto";
            els.prompt.style.height = `${Math.min(els.prompt.scrollHeight + 2, 200)}px`;
          }

          // ---------- import / export ----------

          function importConversation(text, name) {
            let list;
            try { list = JSON.parse(text); } catch (error) { setStatus(`${name} is not JSON: ${error.message}`); return; }
            if (list && !Array.isArray(list) && Array.isArray(list.messages)) list = list.messages;
            if (!Array.isArray(list) || !list.every((m) => m && typeof m === "object" && typeof m.role === "string")) {
              setStatus(`${name}: expected a JSON list of {role, content} messages (the qwenvl chat /save format)`);
              return;
            }
            stop();
            const messages = list.map((m) => ({ ...m, meta: {} }));
            if (messages[0]?.role === "system") {
              els.system.value = textOf(messages.shift());
            }
            state.messages = messages;
            render();
            setStatus(`Imported ${list.length} message${list.length === 1 ? "" : "s"} from ${name}.`);
          }

          function exportConversation() {
            const system = els.system.value.trim();
            const list = state.messages.filter((m) => !m.meta?.failed && m.meta?.state !== "streaming").map(wireMessage);
            if (system) list.unshift({ role: "system", content: system });
            const blob = new Blob([JSON.stringify(list, null, 2) + "\n"], { type: "application/json" });
            const a = el("a", { href: URL.createObjectURL(blob), download: `qwenvl-chat-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.json` });
            document.body.append(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(a.href), 1000);
            setStatus(`Exported ${list.length} messages.`);
          }

          // ---------- wiring ----------

          els.send.addEventListener("click", send);
          els.stop.addEventListener("click", stop);
          $("image-button").addEventListener("click", () => els.imageInput.click());
          $("video-button").addEventListener("click", () => els.videoInput.click());
          els.imageInput.addEventListener("change", async () => { await addFiles([...els.imageInput.files]); els.imageInput.value = ""; });
          els.videoInput.addEventListener("change", async () => { await addFiles([...els.videoInput.files]); els.videoInput.value = ""; });
          $("import-button").addEventListener("click", () => els.importInput.click());
          els.importInput.addEventListener("change", async () => {
            const file = els.importInput.files?.[0];
            if (file) importConversation(await file.text(), file.name);
            els.importInput.value = "";
          });
          $("export-button").addEventListener("click", exportConversation);
          $("clear-button").addEventListener("click", () => {
            stop(); state.messages = []; render(); setStatus("Conversation cleared."); els.prompt.focus();
          });
          els.prompt.addEventListener("keydown", (e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
          });
          els.prompt.addEventListener("input", autoGrow);
          document.addEventListener("keydown", (e) => { if (e.key === "Escape" && state.controller) { e.preventDefault(); stop(); } });
          document.addEventListener("paste", (e) => {
            const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
            if (files.length) { e.preventDefault(); addFiles(files); }
          });
          let dragDepth = 0;
          const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes("Files");
          window.addEventListener("dragenter", (e) => { if (hasFiles(e)) { dragDepth++; els.overlay.hidden = false; } });
          window.addEventListener("dragleave", () => { dragDepth = Math.max(0, dragDepth - 1); if (!dragDepth) els.overlay.hidden = true; });
          window.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
          window.addEventListener("drop", (e) => {
            if (!hasFiles(e)) return;
            e.preventDefault();
            dragDepth = 0; els.overlay.hidden = true;
            addFiles([...e.dataTransfer.files]);
          });

          fetch("/v1/models").then((r) => r.json()).then((list) => {
            const card = list?.data?.[0];
            if (!card) throw new Error("no model listed");
            state.modelID = card.id;
            els.model.replaceChildren(card.id, card.max_model_len ? el("span", { class: "context", text: ` · context ${card.max_model_len}` }) : "");
          }).catch((error) => { els.model.textContent = `model unknown (${error.message})`; });

          // For tests and the console.
          window.qwenvl = { state, importConversation, parseGrounding, locateBoxes };
          els.prompt.focus();
        })();
        """#
}
