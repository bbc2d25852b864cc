/**
 * "Print" buttons (`data-print`): the browser's print dialog. Without script the buttons stay
 * hidden and the page says how to print from the browser's menu.
 */
for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-print]')) {
  button.hidden = false;
  button.addEventListener('click', () => window.print());
}
