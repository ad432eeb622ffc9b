// Upload with XMLHttpRequest so that large files show a progress bar.
const form = document.getElementById("upload-form");
const progress = document.getElementById("progress");
const result = document.getElementById("result");
const error = document.getElementById("error");

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const request = new XMLHttpRequest();
  request.open("POST", form.action || window.location.href);
  request.setRequestHeader("Accept", "application/json");
  progress.hidden = false;
  progress.value = 0;
  error.hidden = true;
  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
  });
  request.addEventListener("load", () => {
    const answer = JSON.parse(request.responseText);
    if (request.status !== 200) {
      error.textContent = answer.error || `Upload failed (${request.status})`;
      error.hidden = false;
      return;
    }
    progress.value = 100;
    document.getElementById("result-name").textContent = answer.name;
    document.getElementById("result-size").textContent = answer.size;
    document.getElementById("result-type").textContent = answer.content_type;
    document.getElementById("result-visibility").textContent = answer.visibility;
    document.getElementById("result-url").href = answer.url;
    result.hidden = false;
  });
  request.addEventListener("error", () => {
    error.textContent = "The upload failed: the server could not be reached.";
    error.hidden = false;
  });
  request.send(new FormData(form));
});
