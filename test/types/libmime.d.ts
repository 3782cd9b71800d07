/** libmime ships no types; the tests use its RFC 2047 decoder only. */
declare module 'libmime' {
  const libmime: { decodeWords(text: string): string };
  export default libmime;
}
