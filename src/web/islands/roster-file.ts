/**
 * "Choose a CSV file" on a course's roster form: the file chosen is read in the browser and put
 * into the "Add students" box, where the teacher sees it before adding (the form still posts the
 * box's text, as pasting would). Without script the chooser stays hidden (`hidden` in the page)
 * and pasting works as before. A file over the server's limit is refused here with a message.
 */
for (const wrapper of document.querySelectorAll<HTMLElement>('[data-roster-file]')) {
  const input = wrapper.querySelector<HTMLInputElement>('input[type="file"]');
  const target = document.getElementById(wrapper.dataset.fills ?? '');
  const status = wrapper.querySelector<HTMLElement>('[role="status"]');
  const maxBytes = Number(wrapper.dataset.maxBytes);
  if (input === null || !(target instanceof HTMLTextAreaElement) || status === null) continue;
  wrapper.hidden = false;
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file === undefined) return;
    if (Number.isFinite(maxBytes) && file.size > maxBytes) {
      status.textContent = `"${file.name}" is larger than ${Math.floor(maxBytes / 1024)} KiB: split it, or paste fewer names.`;
      return;
    }
    file.text().then(
      (text) => {
        target.value = text;
        const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '').length;
        status.textContent = `"${file.name}" read: ${lines} line${lines === 1 ? '' : 's'} in the box above. Check them, then add them to the roster.`;
      },
      () => {
        status.textContent = `"${file.name}" could not be read.`;
      },
    );
  });
}
