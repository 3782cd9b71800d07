/** libqp ships no types; the tests use its decoder only. */
declare module 'libqp' {
  const libqp: { decode(text: string): Buffer; encode(data: Buffer | string): string };
  export default libqp;
}
