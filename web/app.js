// Classify text in the browser with MediaPipe Tasks' TextClassifier and the file the server names
// (`sparse-edge web --model PATH`): no network beyond this page's own server, no CDN.
import { FilesetResolver, TextClassifier } from "./vendor/tasks-text/text_bundle.mjs";

const status = document.getElementById("status");
const button = document.getElementById("classify");

function fail(message) {
  status.textContent = message;
  status.className = "error";
}

async function load() {
  const info = await (await fetch("model.json")).json();
  document.getElementById("model").textContent =
    `Model: ${info.name} (${(info.size_bytes / 1e6).toFixed(1)} MB, labels: ${info.labels.join(", ")})`;
  if (!info.mediapipe) {
    fail(`${info.name} has no MediaPipe metadata, so this page cannot run it. Convert the model with ` +
         "`sparse-edge convert MODEL_DIR --target mediapipe` and give one of the files in MODEL_DIR/mediapipe/.");
    return null;
  }
  const fileset = await FilesetResolver.forTextTasks("vendor/tasks-text/wasm");
  return TextClassifier.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: "model.tflite" }, maxResults: -1,
  });
}

function show(result, millis) {
  const categories = [...result.classifications[0].categories].sort((a, b) => b.score - a.score);
  document.getElementById("label").textContent = categories[0].categoryName;
  document.getElementById("timing").textContent = `(${millis.toFixed(1)} ms)`;
  const bars = document.getElementById("bars");
  bars.replaceChildren(...categories.map((c) => {
    const row = document.createElement("div");
    row.className = "row";
    row.dataset.label = c.categoryName;
    row.dataset.score = String(c.score);
    row.innerHTML = `<span class="name"></span><div class="bar"></div><span class="prob"></span>`;
    row.querySelector(".name").textContent = c.categoryName;
    row.querySelector(".bar").style.width = `${(100 * c.score).toFixed(1)}%`;
    row.querySelector(".prob").textContent = c.score.toFixed(4);
    return row;
  }));
  document.getElementById("result").hidden = false;
}

load().then((classifier) => {
  if (!classifier) return;
  // for scripts and tests: every label's score for many texts in one call, in labels.txt's order
  window.sparseEdge = {
    scores: (texts) => texts.map((text) => [...classifier.classify(text).classifications[0].categories]
      .sort((a, b) => a.index - b.index).map((c) => c.score)),
  };
  status.textContent = "Ready: type a text and press Classify.";
  button.disabled = false;
  button.addEventListener("click", () => {
    const start = performance.now();
    const result = classifier.classify(document.getElementById("text").value);
    show(result, performance.now() - start);
    status.textContent = "Classified.";
  });
}).catch((error) => fail(`The model could not be loaded: ${error.message || error}`));
