"""Browser tests of the chat page of `qwenvl serve`: headless Chromium driven by Selenium, on loopback.

Run through scripts/test-webui.sh, which builds the CLI, starts two servers on the fixture checkpoint and sets:
  QWENVL_BIN        the qwenvl executable (for `qwenvl generate --json` references)
  QWENVL_MODEL      the checkpoint folder (Tests/Fixtures/tiny-f32)
  QWENVL_URL        base URL of a server with the page on
  QWENVL_NOUI_URL   base URL of a server started with --no-ui
  QWENVL_SCREENSHOTS  (optional) a folder to save the page's screenshots in
Every wait has a bound.
"""

import base64
import json
import os
import re
import struct
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "Tests" / "Fixtures" / "images"
BIN = os.environ["QWENVL_BIN"]
MODEL = os.environ["QWENVL_MODEL"]
URL = os.environ["QWENVL_URL"]
NOUI_URL = os.environ["QWENVL_NOUI_URL"]
SCREENSHOTS = os.environ.get("QWENVL_SCREENSHOTS")
PHOTO = IMAGES / "photo.jpg"
TIMEOUT = 60


def jpeg_size(path):
    """(width, height) from a JPEG's start-of-frame segment (read here, independently of the page and the server)."""
    data = path.read_bytes()
    i = 2
    while i + 9 < len(data):
        assert data[i] == 0xFF, "bad JPEG marker"
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no JPEG frame header")


def data_url(path, mime="image/jpeg"):
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def metrics():
    with urllib.request.urlopen(URL + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}


def post_chat(body):
    """POSTs a chat completion; returns (status, parsed JSON)."""
    request = urllib.request.Request(URL + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# The imported conversation: what `qwenvl chat` /save writes (a JSON list of qwen-vl-utils messages) with the image
# as a data: URL, a tool call and its result, and an answer with grounding markup. Boxes are normalized to [0, 1000):
# the second is written bottom-right first and the third runs past 1000, so the page must order and clamp them.
BOXES = [  # (label, written points, expected normalized points)
    ("a teal rectangle", [(275, 67), (375, 347)], [(275, 67), (375, 347)]),
    ("a light green oval", [(785, 913), (625, 800)], [(625, 800), (785, 913)]),
    ("a thin green mark", [(898, 580), (1005, 790)], [(898, 580), (1000, 790)]),
]
QUAD = ("the first row of marks", [(0, 230), (640, 222), (640, 282), (0, 290)])
TOOL_ARGS = {"query": "shapes in photo.jpg", "max_results": 3, "filters": {"colour": ["teal", "green"]}}


def box_markup(points, kind="box"):
    return f"<|{kind}_start|>" + ",".join(f"({x},{y})" for x, y in points) + f"<|{kind}_end|>"


def grounded_answer():
    (l1, p1, _), (l2, p2, _), (l3, p3, _) = BOXES
    ref = lambda label: f"<|object_ref_start|>{label}<|object_ref_end|>"
    return (f"The picture shows {ref(l1)}{box_markup(p1)} near the top, {ref(l2)}{box_markup(p2)} at the bottom, "
            f"{ref(l3)}{box_markup(p3)} on the right edge and {ref(QUAD[0])}{box_markup(QUAD[1], 'quad')} across it.<|im_end|>")


def conversation():
    return [
        {"role": "system", "content": "You are a careful visual assistant."},
        {"role": "user", "content": [{"type": "image", "image": data_url(PHOTO)},
                                     {"type": "text", "text": "Find every shape in this picture."}]},
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "search_shapes", "arguments": json.dumps(TOOL_ARGS)}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"found\": 4}"},
        {"role": "assistant", "content": grounded_answer()},
    ]


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                "--force-device-scale-factor=1", "--hide-scrollbars", "--lang=en-US"]:
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    browser.set_page_load_timeout(TIMEOUT)
    browser.set_script_timeout(TIMEOUT)
    yield browser
    browser.quit()


def wait(driver, condition, timeout=TIMEOUT, message=""):
    # The page re-renders the conversation when an answer ends, so an element found a moment ago may be gone.
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)) \
        .until(lambda d: condition(d), message)


def open_page(driver):
    driver.get(URL)
    wait(driver, lambda d: d.find_element(By.ID, "model-name").text.startswith("tiny-f32"), message="model name not shown")


def last_message(driver, role):
    return driver.execute_script(
        "const all = document.querySelectorAll(`li.message[data-role='${arguments[0]}']`); return all[all.length - 1] ?? null;", role)


def wait_answer(driver, states=("done", "error", "stopped"), timeout=TIMEOUT):
    """The last answer once it has ended (one script call, so the element is the final render)."""
    return wait(driver, lambda d: d.execute_script("""
        const all = document.querySelectorAll("li.message[data-role='assistant']");
        const last = all[all.length - 1];
        return last && arguments[0].includes(last.dataset.state) ? last : null""", list(states)), timeout, "no finished answer")


def text_of(driver, element):
    return driver.execute_script("return arguments[0].querySelector('.text').textContent", element)


def set_field(driver, field_id, value):
    field = driver.find_element(By.ID, field_id)
    field.clear()
    field.send_keys(value)


def open_settings(driver):
    driver.execute_script("document.getElementById('settings').open = true")


def severe_console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]


def save_screenshot(driver, name):
    if not SCREENSHOTS:
        return
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    path = Path(SCREENSHOTS) / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size < 300_000, f"{name} is {path.stat().st_size} bytes"


def test_page_and_assets_have_content_types_and_csp_and_no_ui_is_404():
    for path, content_type in [("/", "text/html"), ("/webui/app.js", "text/javascript"), ("/webui/style.css", "text/css"),
                               ("/webui/icon.svg", "image/svg+xml")]:
        with urllib.request.urlopen(URL + path, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(content_type), path
            csp = response.headers["Content-Security-Policy"]
            for directive in ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "img-src 'self' data: blob:"]:
                assert directive in csp, (path, csp)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    for path in ["/", "/webui/app.js"]:
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(NOUI_URL + path, timeout=10)
        assert excinfo.value.code == 404
        assert json.loads(excinfo.value.read())["error"]["code"] == "not_found"
    with urllib.request.urlopen(NOUI_URL + "/health", timeout=10) as response:
        assert response.status == 200


def test_streamed_answer_equals_qwenvl_generate(driver):
    open_page(driver)
    open_settings(driver)
    set_field(driver, "temperature", "0")
    set_field(driver, "max-tokens", "24")
    driver.find_element(By.ID, "image-input").send_keys(str(PHOTO))
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attachments li img")) == 1, message="no attachment")
    prompt = driver.find_element(By.ID, "prompt")
    prompt.send_keys("Describe this image.")
    prompt.send_keys(Keys.ENTER)
    answer = wait_answer(driver)
    assert answer.get_attribute("data-state") == "done", answer.text

    cli = subprocess.run([BIN, "generate", "--model", MODEL, "--image", str(PHOTO), "--prompt", "Describe this image.",
                          "--temperature", "0", "--max-tokens", "24", "--json"],
                         capture_output=True, text=True, timeout=120, check=True)
    reference = json.loads(cli.stdout.strip().splitlines()[-1])
    assert text_of(driver, answer) == reference["text"]
    assert reference["text"], "the reference answer is empty"

    user = last_message(driver, "user")
    image = user.find_element(By.CSS_SELECTOR, ".media img")
    assert image.get_attribute("src") == data_url(PHOTO)
    assert text_of(driver, user) == "Describe this image."
    timings = answer.find_element(By.CSS_SELECTOR, ".timings").text
    tokens = len(reference["token_ids"]) if "token_ids" in reference else None
    assert "first token " in timings and " tok/s" in timings, timings
    if tokens is not None:
        assert f" {tokens} tokens" in timings, timings
    assert not severe_console_errors(driver)


def test_imported_conversation_draws_boxes_at_original_image_pixels(driver, tmp_path, downloads):
    open_page(driver)
    saved = conversation()
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(saved, indent=2))
    driver.find_element(By.ID, "import-input").send_keys(str(path))
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".figure [data-box]")) >= 4, message="no boxes drawn")

    assert driver.find_element(By.ID, "system-prompt").get_attribute("value") == saved[0]["content"]
    roles = [li.get_attribute("data-role") for li in driver.find_elements(By.CSS_SELECTOR, "#messages > li")]
    assert roles == ["user", "assistant", "tool", "assistant"]

    # Tool call card: the function name and the pretty-printed arguments.
    card = driver.find_element(By.CSS_SELECTOR, ".tool-call")
    assert card.find_element(By.TAG_NAME, "h3").text.startswith("search_shapes")
    assert card.find_element(By.TAG_NAME, "pre").get_attribute("textContent") == json.dumps(TOOL_ARGS, indent=2)

    # The answer's text is shown without the special tokens.
    answer = last_message(driver, "assistant")
    expected_text = grounded_answer()
    for marker in ["<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                   "<|quad_end|>", "<|im_end|>"]:
        expected_text = expected_text.replace(marker, "")
    assert text_of(driver, answer) == expected_text

    width, height = jpeg_size(PHOTO)
    assert (width, height) == (200, 150)
    image = answer.find_element(By.CSS_SELECTOR, ".figure img")
    natural = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image)
    assert natural == [width, height]
    img_rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", image)
    scale = width / img_rect["width"]
    assert img_rect["width"] > width, "a small picture is shown enlarged"

    boxes = answer.find_elements(By.CSS_SELECTOR, ".figure div.box")
    assert len(boxes) == len(BOXES) + 1
    for element, (label, _, points) in zip(boxes, BOXES):
        expected = [points[0][0] / 1000 * width, points[0][1] / 1000 * height,
                    points[1][0] / 1000 * width, points[1][1] / 1000 * height]
        assert element.get_attribute("data-label") == label
        assert element.get_attribute("data-kind") == "box"
        got = [float(element.get_attribute(f"data-{k}")) for k in ("x1", "y1", "x2", "y2")]
        assert got == pytest.approx(expected, abs=0.005), label
        rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)
        drawn = [(rect["left"] - img_rect["left"]) * scale, (rect["top"] - img_rect["top"]) * scale,
                 (rect["right"] - img_rect["left"]) * scale, (rect["bottom"] - img_rect["top"]) * scale]
        assert drawn == pytest.approx(expected, abs=0.5), label
        assert element.find_element(By.CSS_SELECTOR, ".tag").text == label

    quad = answer.find_element(By.CSS_SELECTOR, ".figure polygon")
    expected_quad = [(x / 1000 * width, y / 1000 * height) for x, y in QUAD[1]]
    got_quad = [float(v) for p in quad.get_attribute("points").split() for v in p.split(",")]
    assert got_quad == pytest.approx([v for point in expected_quad for v in point], abs=0.005)
    quad_rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", quad)
    xs, ys = [x for x, _ in expected_quad], [y for _, y in expected_quad]
    assert [(quad_rect["left"] - img_rect["left"]) * scale, (quad_rect["top"] - img_rect["top"]) * scale,
            (quad_rect["right"] - img_rect["left"]) * scale, (quad_rect["bottom"] - img_rect["top"]) * scale] == \
        pytest.approx([min(xs), min(ys), max(xs), max(ys)], abs=1.5)

    # Hovering a box highlights the words naming it, and hovering the words highlights the box.
    refs = answer.find_elements(By.CSS_SELECTOR, ".text .ref")
    assert [r.text for r in refs] == [b[0] for b in BOXES] + [QUAD[0]]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)  # clear of the sticky composer
    ActionChains(driver).move_to_element(boxes[1]).perform()
    wait(driver, lambda d: "active" in refs[1].get_attribute("class").split(), 5, "hovered box did not mark its label")
    assert "active" not in refs[0].get_attribute("class").split()
    ActionChains(driver).move_to_element(refs[0]).perform()
    wait(driver, lambda d: "active" in boxes[0].get_attribute("class").split(), 5, "hovered label did not mark its box")
    assert "active" not in boxes[1].get_attribute("class").split()

    # Export writes the same /save messages back.
    for old in downloads.glob("*.json"):
        old.unlink()
    driver.find_element(By.ID, "export-button").click()
    exported = wait(driver, lambda d: next((p for p in downloads.glob("qwenvl-chat-*.json")
                                            if not p.name.endswith(".crdownload")), None), 20, "no export")
    assert json.loads(exported.read_text()) == saved
    assert not severe_console_errors(driver)


def test_video_frames_read_in_the_browser_give_qwenvl_generates_answer(driver, tmp_path, downloads):
    """A video picked in the page goes out as a frame list of data: URLs; the exported turn replayed through
    `qwenvl generate --messages` gives the same answer."""
    open_page(driver)
    open_settings(driver)
    set_field(driver, "temperature", "0")
    set_field(driver, "max-tokens", "3")
    driver.find_element(By.ID, "video-input").send_keys(str(ROOT / "Tests" / "Fixtures" / "video" / "h264.mp4"))
    thumb = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#attachments .video-thumb"), message="no video attachment")[0]
    frames = int(re.search(r"(\d+) frames", thumb.text).group(1))
    assert frames >= 4 and frames % 2 == 0, thumb.text
    prompt = driver.find_element(By.ID, "prompt")
    prompt.send_keys("What happens in this video?")
    prompt.send_keys(Keys.ENTER)
    answer = wait_answer(driver, timeout=300)
    assert answer.get_attribute("data-state") == "done", answer.text

    for old in downloads.glob("*.json"):
        old.unlink()
    driver.find_element(By.ID, "export-button").click()
    exported = wait(driver, lambda d: next(iter(downloads.glob("qwenvl-chat-*.json")), None), 20, "no export")
    saved = json.loads(exported.read_text())
    assert [m["role"] for m in saved] == ["user", "assistant"]
    video = saved[0]["content"][0]
    assert video["type"] == "video" and len(video["video"]) == frames
    assert all(f.startswith("data:image/jpeg;base64,") for f in video["video"])
    assert saved[1]["content"] == text_of(driver, answer)
    question = tmp_path / "question.json"
    question.write_text(json.dumps(saved[:1]))
    cli = subprocess.run([BIN, "generate", "--model", MODEL, "--messages", str(question), "--temperature", "0",
                          "--max-tokens", "3", "--json"], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(cli.stdout.strip().splitlines()[-1])["text"] == text_of(driver, answer)


REF, REF_END, BOX, BOX_END, QUAD_START, QUAD_END = ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
                                                     "<|box_end|>", "<|quad_start|>", "<|quad_end|>")


def labelled(label, body):
    return REF + label + REF_END + BOX + body + BOX_END


# (model output, expected [(label, kind, points)]) under the rules of Sources/QwenVL/Grounding.swift (spec §9), the
# cases of Tests/QwenVLTests/GroundingTests.swift.
PARSER_CASES = [
    (labelled("the cat", "(120,340),(560,910)"), [("the cat", "box", [[120, 340], [560, 910]])]),
    ("Here: " + REF + " cars " + REF_END + BOX + "(1,2),(3,4)" + BOX_END + BOX + "(10,20),(30,40)" + BOX_END + ", " + BOX
     + "(5,6),(7,8)" + BOX_END + " and " + labelled("a dog", "(500,500),(999,999)") + ".",
     [("cars", "box", [[1, 2], [3, 4]]), ("cars", "box", [[10, 20], [30, 40]]), ("cars", "box", [[5, 6], [7, 8]]),
      ("a dog", "box", [[500, 500], [999, 999]])]),
    (BOX + "(0,0),(1000,1000)" + BOX_END + " then " + labelled("x", "(1,1),(2,2)") + " more words " + BOX + "(3,3),(4,4)"
     + BOX_END + REF + "  " + REF_END + BOX + "(5,5),(6,6)" + BOX_END,
     [(None, "box", [[0, 0], [1000, 1000]]), ("x", "box", [[1, 1], [2, 2]]), (None, "box", [[3, 3], [4, 4]]),
      (None, "box", [[5, 5], [6, 6]])]),
    (REF + "sign" + REF_END + QUAD_START + "(10,20),(300,25),(310,90),(5,80)" + QUAD_END + QUAD_START + "(1,2),(3,4)" + QUAD_END,
     [("sign", "quad", [[10, 20], [300, 25], [310, 90], [5, 80]])]),
    (REF + "\n  tree\t" + REF_END + "\n" + BOX + " ( 700 ,\n 900 ) ,\n( 100, 50 ) " + BOX_END + BOX
     + "(-5,+20)(1500,99999999999999999999999)" + BOX_END,
     [("tree", "box", [[100, 50], [700, 900]]), ("tree", "box", [[0, 20], [1000, 1000]])]),
    (BOX + "(1,2),(3,4)" + BOX + "(5,6),(7,8)" + BOX_END + BOX_END + REF_END + REF + "never closed" + BOX + "(9,9),(10,10)"
     + BOX_END + QUAD_START + "(1,1),(2,2),(3,3),(4,4)" + BOX_END,
     [(None, "box", [[5, 6], [7, 8]]), (None, "box", [[9, 9], [10, 10]])]),
] + [(labelled("bad", body) + " " + labelled("ok", "(1,2),(3,4)"), [("ok", "box", [[1, 2], [3, 4]])]) for body in [
    "(10,20),(200,300", "(10,20),200,300)", "(10.5,20),(200,300)", "(a,b),(c,d)", "(10,20)", "(1,2),(3,4),(5,6)",
    "(10 20),(200,300)", "", "   ", "(10,20),(200,300),", "[10,20,200,300]", "(10,20);(200,300)", "(1e3,2),(3,4)"]]


def test_page_parser_follows_the_grounding_rules(driver):
    open_page(driver)
    got = driver.execute_script("return arguments[0].map((t) => window.qwenvl.parseGrounding(t).boxes)",
                                [text for text, _ in PARSER_CASES])
    for (text, expected), boxes in zip(PARSER_CASES, got):
        assert [(b["label"], b["kind"], b["points"]) for b in boxes] == expected, text


def test_streamed_boxes_mark_the_same_text_as_markup(driver):
    """A streamed answer loses its special tokens and gets `boxes` in its last chunk; the page must then link the
    same label and coordinate spans as it does for the markup of an imported answer."""
    open_page(driver)
    result = driver.execute_script("""
        const raw = arguments[0];
        const parsed = window.qwenvl.parseGrounding(raw);
        const field = parsed.boxes.map((b) => ({label: b.label, kind: b.kind, box: b.points.flat()}));
        const streamed = raw.replace(/<\\|[a-z_]+\\|>/g, "");
        const located = window.qwenvl.locateBoxes(streamed, field.map((b) => ({label: b.label, kind: b.kind,
            points: [[b.box[0], b.box[1]], [b.box[2], b.box[3]]].concat(b.kind === "quad" ? [[b.box[4], b.box[5]], [b.box[6], b.box[7]]] : [])})));
        const key = (m) => `${m.kind} ${m.start} ${m.end} ${m.boxes.join(",")}`;
        return {text: parsed.text, streamed, parsed: parsed.marks.map(key).sort(), located: located.map(key).sort(),
                boxes: parsed.boxes};
    """, grounded_answer())
    assert result["text"] == result["streamed"]
    assert result["located"] == result["parsed"]
    assert len(result["parsed"]) == 8
    assert [(b["label"], b["kind"], b["points"]) for b in result["boxes"]] == \
        [(label, "box", [list(p) for p in points]) for label, _, points in BOXES] + [(QUAD[0], "quad", [list(p) for p in QUAD[1]])]


def test_image_paths_get_a_reattach_placeholder_and_drop_and_paste_attach(driver, tmp_path):
    open_page(driver)
    saved = conversation()
    saved[1]["content"][0]["image"] = "/home/someone/Pictures/photo.jpg"   # what /save writes for a local file
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(saved))
    driver.find_element(By.ID, "import-input").send_keys(str(path))
    placeholder = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "li.message.user .placeholder"), message="no placeholder")[0]
    assert "/home/someone/Pictures/photo.jpg" in placeholder.text
    assert not driver.find_elements(By.CSS_SELECTOR, ".figure"), "no picture to draw the boxes on"
    assert "attach the image" in last_message(driver, "assistant").text
    placeholder.find_element(By.TAG_NAME, "button").click()
    driver.find_element(By.ID, "reattach-input").send_keys(str(PHOTO))
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".figure div.box")) == 4, message="boxes not drawn after re-attaching")
    assert driver.find_element(By.CSS_SELECTOR, "li.message.user .media img").get_attribute("src") == data_url(PHOTO)

    # Drag and drop, then paste: both attach the file as a data: URL.
    payload = base64.b64encode(PHOTO.read_bytes()).decode()
    for event in ["drop", "paste"]:
        driver.execute_script("""
            const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "photo.jpg", {type: "image/jpeg"}));
            if (arguments[1] === "drop") {
              window.dispatchEvent(new DragEvent("dragenter", {dataTransfer: data, bubbles: true}));
              window.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
            } else {
              document.getElementById("prompt").dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
            }""", payload, event)
        count = 1 if event == "drop" else 2
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attachments li img")) == count, 10, f"{event} did not attach")
        assert driver.find_elements(By.CSS_SELECTOR, "#attachments li img")[-1].get_attribute("src") == data_url(PHOTO)
        assert not driver.find_element(By.ID, "drop-overlay").is_displayed()


def start_long_answer(driver, prompt_text):
    prompt = driver.find_element(By.ID, "prompt")
    prompt.send_keys(prompt_text)
    prompt.send_keys(Keys.ENTER)
    wait(driver, lambda d: (m := last_message(d, "assistant")) is not None and len(text_of(d, m)) > 0, message="nothing streamed")
    assert last_message(driver, "assistant").get_attribute("data-state") == "streaming"


def wait_cancelled_count(above):
    deadline = time.time() + 30
    while time.time() < deadline:
        value = metrics()["qwenvl_requests_cancelled_total"]
        if value > above:
            return value
        time.sleep(0.1)
    raise AssertionError(f"qwenvl_requests_cancelled_total stayed at {above}")


def test_stop_button_and_escape_cancel_the_request(driver):
    open_page(driver)
    open_settings(driver)
    set_field(driver, "max-tokens", "4000")
    before = metrics()["qwenvl_requests_cancelled_total"]
    start_long_answer(driver, "Count from one to ten thousand.")
    driver.find_element(By.ID, "stop-button").click()
    answer = wait_answer(driver, timeout=10)
    assert answer.get_attribute("data-state") == "stopped"
    assert "stopped" in answer.find_element(By.CSS_SELECTOR, ".timings").text
    after_click = wait_cancelled_count(before)
    assert driver.find_element(By.ID, "send-button").is_displayed()

    start_long_answer(driver, "And again, from one to ten thousand.")
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    assert wait_answer(driver, timeout=10).get_attribute("data-state") == "stopped"
    wait_cancelled_count(after_click)


def test_api_errors_are_shown_in_words(driver, tmp_path):
    open_page(driver)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a PNG file at all")
    status, error = post_chat({"messages": [{"role": "user", "content": [
        {"type": "image", "image": data_url(bad, "image/png")}, {"type": "text", "text": "What is this?"}]}], "max_tokens": 4})
    assert status == 400, error
    message = error["error"]["message"]

    driver.find_element(By.ID, "image-input").send_keys(str(bad))
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attachments li")) == 1, message="no attachment")
    prompt = driver.find_element(By.ID, "prompt")
    prompt.send_keys("What is this?")
    prompt.send_keys(Keys.ENTER)
    shown = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "li.message.failed .error"), message="no error shown")[0]
    assert message in shown.text
    assert "HTTP 400" in shown.text
    # The turn did not happen: the draft is back in the composer for a retry.
    assert prompt.get_attribute("value") == "What is this?"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#attachments li")) == 1

    # A max_tokens the server refuses.
    driver.find_element(By.CSS_SELECTOR, "#attachments li button").click()
    open_settings(driver)
    set_field(driver, "max-tokens", "0")
    prompt.send_keys(Keys.ENTER)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.message.failed .error")) == 2, message="no second error")
    shown = driver.find_elements(By.CSS_SELECTOR, "li.message.failed .error")[-1]
    assert "max_tokens must be at least 1 (got 0)" in shown.text


def test_keyboard_only_send_focus_order_and_labels(driver):
    open_page(driver)
    active = lambda: driver.switch_to.active_element.get_attribute("id")
    assert active() == "prompt", "the prompt has focus when the page opens"
    keys = ActionChains(driver)
    keys.send_keys("Hello").key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).send_keys("there").perform()
    assert driver.find_element(By.ID, "prompt").get_attribute("value") == "Hello\nthere", "Shift+Enter is a new line"
    assert not driver.find_elements(By.CSS_SELECTOR, "li.message"), "Shift+Enter does not send"

    # Tab order around the prompt: image, video, prompt, send; focus is visible.
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert active() == "send-button"
    outline = driver.execute_script("const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]")
    assert outline[0] != "none" and outline[1] != "0px", outline
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert active() == "video-button"
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert active() == "image-button"
    ActionChains(driver).send_keys(Keys.TAB).send_keys(Keys.TAB).perform()
    assert active() == "prompt"

    # Settings by keyboard: the summary opens with Enter; max tokens typed in.
    driver.execute_script("document.querySelector('#settings summary').focus()")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    assert driver.find_element(By.ID, "settings").get_attribute("open") is not None
    driver.execute_script("document.getElementById('max-tokens').focus()")
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys("6").perform()
    driver.execute_script("document.getElementById('prompt').focus()")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    answer = wait_answer(driver)
    assert answer.get_attribute("data-state") == "done"
    assert text_of(driver, last_message(driver, "user")) == "Hello\nthere"
    timings = answer.find_element(By.CSS_SELECTOR, ".timings").text
    count = re.search(r"(\d+) tokens? ·", timings)
    assert count and 1 <= int(count.group(1)) <= 6, f"max tokens 6 typed by keyboard was sent: {timings}"

    # Every button has a name a screen reader can read.
    unnamed = driver.execute_script("""return [...document.querySelectorAll('button')].filter(b =>
        !(b.getAttribute('aria-label') || b.textContent.trim())).map(b => b.outerHTML)""")
    assert unnamed == []


def test_phone_width_has_no_horizontal_scroll(driver, tmp_path):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 375, "height": 812, "deviceScaleFactor": 1,
                                                                 "mobile": True})
    try:
        open_page(driver)
        saved = conversation()
        saved.append({"role": "user", "content": "A long unbroken word: " + "x" * 300})
        path = tmp_path / "chat.json"
        path.write_text(json.dumps(saved))
        driver.find_element(By.ID, "import-input").send_keys(str(path))
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".figure [data-box]")) >= 4, message="no boxes drawn")
        driver.execute_script("document.getElementById('settings').open = true")
        sizes = driver.execute_script("return [innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth]")
        assert sizes[0] == 375
        assert sizes[1] <= 375 and sizes[2] <= 375, sizes
        for element_id in ["prompt", "send-button", "image-button"]:
            rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()",
                                         driver.find_element(By.ID, element_id))
            assert 0 <= rect["left"] and rect["right"] <= 375, (element_id, rect)
        driver.execute_script("document.getElementById('settings').open = false")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.skipif(not SCREENSHOTS, reason="QWENVL_SCREENSHOTS is not set")
def test_save_screenshots(driver, tmp_path):
    """The README's pictures: a grounded answer on a desktop-width window, then the same on a phone."""
    saved = [m for m in conversation() if m["role"] != "tool" and not m.get("tool_calls")]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(saved))
    for name, metrics_override in [("webui-desktop.png", {"width": 1100, "height": 860, "mobile": False}),
                                   ("webui-phone.png", {"width": 375, "height": 760, "mobile": True})]:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"deviceScaleFactor": 1, **metrics_override})
        try:
            open_page(driver)
            driver.find_element(By.ID, "import-input").send_keys(str(path))
            wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".figure [data-box]")) >= 4, message="no boxes drawn")
            box = driver.find_elements(By.CSS_SELECTOR, ".figure div.box")[1]
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
            ActionChains(driver).move_to_element(box).perform()
            save_screenshot(driver, name)
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
