/**
 * "Copy" buttons, for pages that show something to keep (recovery codes, a TOTP key): a button
 * with `data-copy="<element id>"` copies that element's text to the clipboard and says so in a
 * live region. Without script the buttons stay hidden (`hidden` in the page) and the text can
 * be selected by hand; with script they appear.
 */
for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
  const source = document.getElementById(button.dataset.copy ?? '');
  const status = document.getElementById(button.dataset.copyStatus ?? '');
  if (source === null || navigator.clipboard === undefined) continue;
  button.hidden = false;
  button.addEventListener('click', () => {
    navigator.clipboard.writeText(source.innerText.trim()).then(
      () => {
        if (status !== null) status.textContent = 'Copied.';
      },
      () => {
        if (status !== null) status.textContent = 'Could not copy: select the text and copy it yourself.';
      },
    );
  });
}
