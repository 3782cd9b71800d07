// The Worker's Text modules (wrangler.toml `[[rules]]`): each default-exports the file's text.
declare module 'uplot/dist/uPlot.iife.min.js' {
  const text: string;
  export default text;
}
declare module 'uplot/dist/uPlot.min.css' {
  const text: string;
  export default text;
}
