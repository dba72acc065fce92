/// The chat web page's style sheet (served at `/webui/style.css`).
///
/// One column that fills the window, a sticky composer, light and dark colour schemes, visible keyboard focus,
/// and nothing wider than the viewport down to phone widths (375 px): long words wrap, images shrink.
enum WebUIStyle {
    static let source = #"""
        :root {
          color-scheme: light dark;
          --bg: #f6f7fb; --panel: #ffffff; --text: #1f2330; --muted: #667085; --line: #e3e6ee;
          --user: #eef0ff; --accent: #4f46e5; --accent-text: #ffffff; --danger: #dc2626; --focus: #f59e0b;
          --code: #f3f4f6; --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .1);
          --radius: 14px;
          font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #12141a; --panel: #1b1e27; --text: #e6e8ef; --muted: #9aa3b5; --line: #2c313d;
            --user: #262a45; --accent: #818cf8; --accent-text: #0b0d12; --code: #232734;
            --shadow: 0 1px 3px rgba(0, 0, 0, .5);
          }
        }
        *, *::before, *::after { box-sizing: border-box; }
        html, body { margin: 0; background: var(--bg); color: var(--text); }
        body { min-height: 100vh; display: flex; flex-direction: column; }
        button, input, textarea { font: inherit; color: inherit; }
        :focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 6px; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        .skip { position: absolute; left: -999px; top: 0; background: var(--panel); padding: 8px 12px; z-index: 10; }
        .skip:focus { left: 8px; top: 8px; }

        .bar {
          position: sticky; top: 0; z-index: 5; display: flex; align-items: center; justify-content: space-between;
          gap: 12px; padding: 10px 16px; background: var(--panel); border-bottom: 1px solid var(--line);
        }
        .brand { display: flex; align-items: center; gap: 10px; min-width: 0; }
        .brand h1 { font-size: 17px; margin: 0; line-height: 1.1; }
        .model { margin: 0; font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
        .actions { display: flex; gap: 6px; flex: none; }

        button {
          border: 1px solid var(--line); background: var(--panel); border-radius: 10px; padding: 7px 14px;
          cursor: pointer; line-height: 1.2;
        }
        button:hover { border-color: var(--accent); }
        button:disabled { opacity: .5; cursor: not-allowed; }
        button.ghost { background: transparent; }
        button.primary { background: var(--accent); color: var(--accent-text); border-color: var(--accent); font-weight: 600; }
        button.danger { background: var(--danger); color: #fff; border-color: var(--danger); font-weight: 600; }
        button.icon { padding: 7px; width: 40px; height: 40px; display: inline-grid; place-items: center; flex: none; }
        button.icon svg { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 1.8;
                          stroke-linecap: round; stroke-linejoin: round; }

        main { flex: 1; width: 100%; max-width: 860px; margin: 0 auto; padding: 12px 16px 24px; }
        .settings { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); margin-bottom: 14px; }
        .settings summary { cursor: pointer; padding: 8px 14px; font-weight: 600; color: var(--muted); }
        .settings-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 10px 14px; padding: 0 14px 14px; }
        .settings label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; color: var(--muted); }
        .settings .wide { grid-column: 1 / -1; }
        .settings input, .settings textarea {
          border: 1px solid var(--line); border-radius: 8px; padding: 7px 9px; background: var(--bg); width: 100%;
          color: var(--text);
        }
        .settings textarea { resize: vertical; }

        .empty { text-align: center; color: var(--muted); padding: 40px 12px; }
        .empty h2 { color: var(--text); font-size: 20px; margin: 0 0 6px; }
        .empty p { max-width: 460px; margin: 0 auto; }
        .messages:not(:empty) + .empty { display: none; }
        .messages { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 14px; }
        .message { display: flex; flex-direction: column; gap: 6px; max-width: 100%; }
        .message .who { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
        .bubble {
          background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 10px 14px;
          box-shadow: var(--shadow); max-width: 100%; min-width: 0;
        }
        .message.user { align-items: flex-end; }
        .message.user .bubble { background: var(--user); border-color: transparent; }
        .message.failed .bubble { opacity: .8; border: 1px dashed var(--danger); }
        .message.system .bubble { background: transparent; box-shadow: none; border-style: dashed; color: var(--muted); }
        .text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
        .text:empty { display: none; }
        .message.assistant.streaming .text::after { content: "▍"; color: var(--accent); animation: blink 1s steps(2) infinite; }
        @keyframes blink { 50% { opacity: 0; } }
        .media { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 6px; }
        .media img, .media video { max-width: min(100%, 320px); max-height: 260px; border-radius: 10px; display: block; }
        .placeholder {
          display: flex; flex-direction: column; gap: 6px; align-items: flex-start; padding: 10px 12px; border-radius: 10px;
          border: 1px dashed var(--muted); color: var(--muted); font-size: 13px; overflow-wrap: anywhere; max-width: 320px;
        }

        .figure { position: relative; display: block; width: fit-content; max-width: 100%; margin-top: 10px; line-height: 0; }
        .figure img { display: block; max-width: 100%; height: auto; border-radius: 10px; }
        .figure svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; overflow: visible; }
        .box {
          position: absolute; border: 2px solid var(--c); border-radius: 3px; background: transparent;
          box-shadow: 0 0 0 1px rgba(0, 0, 0, .35); transition: background-color .12s;
        }
        .box.quad-anchor { border: none; box-shadow: none; }
        .box .tag {
          position: absolute; left: -2px; bottom: 100%; max-width: 220px; padding: 1px 6px; border-radius: 4px 4px 4px 0;
          background: var(--c); color: #fff; font-size: 12px; line-height: 1.5; white-space: nowrap; overflow: hidden;
          text-overflow: ellipsis; text-shadow: 0 1px 1px rgba(0, 0, 0, .4);
        }
        .box.tag-inside .tag { bottom: auto; top: 0; border-radius: 0 0 4px 0; }
        .box.tag-right .tag { left: auto; right: -2px; border-radius: 4px 4px 0 4px; }
        .box.tag-right.tag-inside .tag { border-radius: 0 0 0 4px; }
        .box.active, .box:hover { background: color-mix(in srgb, var(--c) 28%, transparent); z-index: 2; }
        .figure polygon { fill: transparent; stroke: var(--c); stroke-width: 2; vector-effect: non-scaling-stroke; }
        .figure polygon.active { fill: color-mix(in srgb, var(--c) 28%, transparent); }
        .ref { border-bottom: 2px solid var(--c); border-radius: 2px; cursor: default; }
        .ref.active { background: color-mix(in srgb, var(--c) 30%, transparent); }
        .coords { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
        .coords.active { color: var(--text); background: color-mix(in srgb, var(--c) 30%, transparent); }

        .tool-call { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 10px; margin-top: 8px;
                     background: var(--bg); overflow: hidden; }
        .tool-call h3 { margin: 0; padding: 6px 10px; font-size: 13px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
        .tool-call h3 span { color: var(--muted); font-weight: 400; }
        .tool-call pre { margin: 0; padding: 8px 10px; background: var(--code); font-size: 12.5px; overflow-x: auto;
                         white-space: pre-wrap; overflow-wrap: anywhere; }
        .message.tool .bubble { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }

        .note { font-size: 12px; color: var(--muted); margin-bottom: 4px; }
        .timings { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; margin-top: 8px; padding-top: 6px;
                   border-top: 1px solid var(--line); }
        .error { border: 1px solid var(--danger); color: var(--danger); background: color-mix(in srgb, var(--danger) 8%, var(--panel));
                 border-radius: 10px; padding: 8px 12px; margin-top: 6px; overflow-wrap: anywhere; }

        .composer {
          position: sticky; bottom: 0; z-index: 4; background: var(--panel); border-top: 1px solid var(--line);
          padding: 10px 16px 8px;
        }
        .composer > * { max-width: 860px; margin-left: auto; margin-right: auto; }
        .composer .row { display: flex; gap: 8px; align-items: flex-end; }
        .composer textarea {
          flex: 1; min-width: 0; resize: none; max-height: 200px; border: 1px solid var(--line); border-radius: 12px;
          padding: 9px 12px; background: var(--bg); line-height: 1.4;
        }
        .composer textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 0; border-color: transparent; }
        .composer .primary, .composer .danger { height: 40px; flex: none; }
        .status-line { display: flex; justify-content: space-between; gap: 12px; margin-top: 4px; font-size: 12px; color: var(--muted); }
        .status { min-height: 1.2em; margin: 0; overflow-wrap: anywhere; min-width: 0; }
        .keys { margin: 0; flex: none; }
        .attachments { list-style: none; display: flex; flex-wrap: wrap; gap: 8px; padding: 0; margin-top: 0; margin-bottom: 8px; }
        .attachments:empty { display: none; }
        .attachments li { position: relative; }
        .attachments img, .attachments .video-thumb {
          width: 64px; height: 64px; object-fit: cover; border-radius: 8px; border: 1px solid var(--line); display: block;
        }
        .attachments .video-thumb { display: grid; place-items: center; font-size: 11px; color: var(--muted); background: var(--bg);
                                    text-align: center; padding: 4px; overflow: hidden; }
        .attachments button { position: absolute; top: -6px; right: -6px; width: 22px; height: 22px; padding: 0; border-radius: 50%;
                              font-size: 13px; line-height: 1; background: var(--text); color: var(--panel); border: none; }
        .drop-overlay {
          position: fixed; inset: 0; z-index: 20; display: grid; place-items: center; pointer-events: none;
          background: color-mix(in srgb, var(--accent) 18%, transparent); border: 4px dashed var(--accent);
        }
        .drop-overlay[hidden] { display: none; }
        .drop-overlay p { background: var(--panel); padding: 14px 20px; border-radius: 12px; font-weight: 600; box-shadow: var(--shadow); }

        @media (max-width: 560px) {
          .bar { padding: 8px 10px; }
          .actions { gap: 4px; }
          .actions button { padding: 6px 8px; font-size: 13px; }
          .model .context, .keys { display: none; }
          main { padding: 10px 10px 20px; }
          .composer { padding: 8px 10px 6px; }
          .composer .row { gap: 6px; }
          .composer .primary, .composer .danger { padding: 7px 10px; }
          button.icon { width: 36px; height: 40px; }
          .settings-grid { grid-template-columns: 1fr 1fr; }
          .box .tag { max-width: 140px; font-size: 11px; }
        }
        """#
}
