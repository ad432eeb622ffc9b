// Large files go from the browser straight to the object store (see gallery/large_files.py):
// 1. start: Django signs a PUT for this file's name, size and type;
// 2. the browser PUTs the file to that URL with exactly the headers Django returned;
// 3. confirm: Django checks what arrived and records it.
const largeForm = document.getElementById("large-form");
const largeFile = document.getElementById("large-file");
const largeButton = document.getElementById("large-upload-button");
const largeProgress = document.getElementById("large-progress");
const largePercent = document.getElementById("large-percent");
const largeStatus = document.getElementById("large-status");
const largeResult = document.getElementById("large-result");
const largeError = document.getElementById("large-error");
const csrfToken = largeForm.querySelector("[name=csrfmiddlewaretoken]").value;

function showProgress(fraction) {
  const percent = Math.floor(100 * fraction);
  largeProgress.value = percent;
  largePercent.textContent = `${percent}%`;
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `${url} answered ${response.status}`);
  return answer;
}

// XMLHttpRequest rather than fetch: only it reports how much of the body has been sent.
function putWithProgress(upload, file) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", upload.url);
    // Content-Type, If-None-Match and the save token are part of the signature; the browser adds
    // Content-Length, which was signed too, so only a file of the announced size is accepted.
    for (const [name, value] of Object.entries(upload.headers)) {
      request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) showProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else reject(new Error(`The object store refused the upload (${request.status}).`));
    });
    request.addEventListener("error", () => {
      reject(new Error("The object store could not be reached."));
    });
    request.send(file);
  });
}

function showResult(stored) {
  document.getElementById("large-result-name").textContent = stored.name;
  document.getElementById("large-result-size").textContent = stored.size;
  document.getElementById("large-result-type").textContent = stored.content_type;
  document.getElementById("large-result-download").href = stored.download_url;
  largeResult.hidden = false;
}

async function uploadLargeFile(file) {
  largeStatus.textContent = "Asking Django for a signed upload…";
  const { upload, token } = await postJson(largeForm.dataset.startUrl, {
    filename: file.name,
    size: file.size,
    content_type: file.type,
  });
  largeStatus.textContent = "Sending the file to the object store…";
  let putFailure = null;
  try {
    await putWithProgress(upload, file);
  } catch (error) {
    // The store may have the file even so (the answer was lost): confirm tells, by the
    // upload's save token, and records it once.
    putFailure = error;
  }
  if (file.size === 0) showProgress(1); // an empty body sends no progress events
  largeStatus.textContent = "Django is checking what arrived…";
  let stored;
  try {
    stored = await postJson(largeForm.dataset.confirmUrl, { token });
  } catch (error) {
    throw putFailure || error;
  }
  showResult(stored);
  largeStatus.textContent = "";
}

largeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = largeFile.files[0];
  if (!file) return;
  largeButton.disabled = true;
  largeResult.hidden = true;
  largeError.hidden = true;
  showProgress(0);
  try {
    await uploadLargeFile(file);
  } catch (error) {
    largeStatus.textContent = "";
    largeError.textContent = error.message;
    largeError.hidden = false;
  } finally {
    largeButton.disabled = false;
  }
});
