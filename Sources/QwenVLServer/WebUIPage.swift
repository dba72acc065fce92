/// The chat web page's HTML document (served at `/`; its behaviour is ``WebUIScript``, its look ``WebUIStyle``).
///
/// Landmarks: a header (model name, import/export/clear), a settings panel (system prompt, temperature, max
/// tokens), the conversation (`#messages`, an ARIA live log) and the composer (attachments, prompt, send/stop).
/// No inline script or style: the Content-Security-Policy forbids both.
enum WebUIPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>QwenVL chat</title>
        <link rel="icon" href="/webui/icon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="/webui/style.css">
        <script src="/webui/app.js" defer></script>
        </head>
        <body>
        <a class="skip" href="#prompt">Skip to the prompt</a>
        <header class="bar">
          <div class="brand">
            <img src="/webui/icon.svg" alt="" width="28" height="28">
            <div>
              <h1>QwenVL</h1>
              <p id="model-name" class="model" aria-live="polite">connecting…</p>
            </div>
          </div>
          <nav class="actions" aria-label="Conversation">
            <button type="button" id="import-button" class="ghost" aria-label="Import a saved conversation (JSON)">Import</button>
            <button type="button" id="export-button" class="ghost" aria-label="Export the conversation as JSON">Export</button>
            <button type="button" id="clear-button" class="ghost" aria-label="Clear the conversation">Clear</button>
            <input type="file" id="import-input" accept="application/json,.json" hidden>
          </nav>
        </header>

        <main>
          <details id="settings" class="settings">
            <summary>Settings</summary>
            <div class="settings-grid">
              <label class="wide">System prompt
                <textarea id="system-prompt" rows="2" placeholder="(none: the model's default)"></textarea>
              </label>
              <label>Temperature
                <input type="number" id="temperature" value="0" min="0" max="2" step="0.1" inputmode="decimal">
              </label>
              <label>Max tokens
                <input type="number" id="max-tokens" value="512" min="1" step="1" inputmode="numeric">
              </label>
            </div>
          </details>

          <ol id="messages" class="messages" aria-label="Conversation" aria-live="polite" aria-relevant="additions text"></ol>
          <div id="empty" class="empty">
            <h2>Ask about an image</h2>
            <p>Attach a picture (button, drag and drop, or paste), type a question and press Enter.
               Ask for <q>the location of the cat</q> and the model's boxes are drawn on the picture.</p>
          </div>
        </main>

        <footer class="composer" id="composer">
          <ul id="attachments" class="attachments" aria-label="Attachments"></ul>
          <div class="row">
            <button type="button" id="image-button" class="icon" aria-label="Attach images" title="Attach images">
              <svg viewBox="0 0 24 24" aria-hidden="true"><rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="M21 17l-5-5-9 8"/></svg>
            </button>
            <button type="button" id="video-button" class="icon" aria-label="Attach a video" title="Attach a video">
              <svg viewBox="0 0 24 24" aria-hidden="true"><rect x="3" y="6" width="13" height="12" rx="2"/><path d="M16 10l5-3v10l-5-3z"/></svg>
            </button>
            <input type="file" id="image-input" accept="image/*" multiple hidden>
            <input type="file" id="video-input" accept="video/*" hidden>
            <input type="file" id="reattach-input" accept="image/*" hidden>
            <label for="prompt" class="visually-hidden">Message</label>
            <textarea id="prompt" rows="1" placeholder="Message…" aria-describedby="keys status"></textarea>
            <button type="button" id="send-button" class="primary" aria-label="Send (Enter)">Send</button>
            <button type="button" id="stop-button" class="danger" aria-label="Stop generating (Escape)" hidden>Stop</button>
          </div>
          <div class="status-line">
            <p id="status" class="status" role="status" aria-live="polite"></p>
            <p id="keys" class="keys">Enter sends · Shift+Enter new line · Esc stops</p>
          </div>
        </footer>
        <div id="drop-overlay" class="drop-overlay" hidden><p>Drop images or a video to attach</p></div>
        </body>
        </html>
        """#
}
