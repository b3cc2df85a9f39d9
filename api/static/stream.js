// Reads the server-sent events of POST /ask/stream from a fetch response: meta, delta, done, error.

// Calls onEvent(name, data) for each event, data parsed from JSON.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      block.split("\n").forEach((line) => {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    if (done) return;
  }
}

// onMeta(meta) once; onText(text so far) on each delta and with the final answer. An error event throws.
// Returns whether the stream reached "done" (false: the connection ended early).
export async function readAnswer(response, { onMeta, onText }) {
  let text = "";
  let finished = false;
  await readEvents(response, (name, data) => {
    if (name === "meta") {
      onMeta(data);
    } else if (name === "delta") {
      text += data.text;
      onText(text);
    } else if (name === "done") {
      finished = true;
      onText(data.answer);
    } else if (name === "error") {
      throw new Error(data.error.message);
    }
  });
  return finished;
}
