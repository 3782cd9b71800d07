/**
 * Quoted-printable (RFC 2045 §6.7) as the accept path writes it, checked by a decoder we did
 * not write (libqp, from the nodemailer family): every line decodes back to the input, and no
 * encoded line is longer than 76 characters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import libqp from 'libqp';
import { quotedPrintable } from '../../shared/mime.ts';

const decode = (qp: string) => libqp.decode(qp).toString('utf8');

test('literal lines pass through untouched; the rest is escaped by the rules of §6.7', () => {
  assert.equal(quotedPrintable('Hello, world.'), 'Hello, world.');
  assert.equal(quotedPrintable('a=b'), 'a=3Db', 'rule 1: "=" is always escaped');
  assert.equal(quotedPrintable('trailing space '), 'trailing space=20', 'rule 3: white space at a line end is escaped');
  assert.equal(quotedPrintable('tab\t'), 'tab=09');
  assert.equal(quotedPrintable('grüße'), 'gr=C3=BC=C3=9Fe', 'UTF-8 bytes escaped');
  assert.equal(quotedPrintable('one\ntwo\r\nthree'), 'one\r\ntwo\r\nthree', 'line breaks become CRLF');
});

test('soft line breaks keep every encoded line within 76 characters, literal or escaped', () => {
  for (const line of ['x'.repeat(75), 'x'.repeat(76), 'y'.repeat(400), 'é'.repeat(60), `${'z'.repeat(74)}=`, `${'w'.repeat(150)} `]) {
    const encoded = quotedPrintable(line);
    for (const out of encoded.split('\r\n')) assert.ok(out.length <= 76, `${out.length}: ${out}`);
    assert.equal(decode(encoded), line);
  }
});

test('random text round-trips through an independent decoder', () => {
  const alphabet = 'abc XYZ 0123 =\t.-é€ü😀\n';
  for (let n = 0; n < 500; n++) {
    let text = '';
    const length = Math.floor(Math.random() * 400);
    for (let i = 0; i < length; i++) text += Math.random() < 0.8 ? 'lorem ipsum '[i % 12] : [...alphabet][Math.floor(Math.random() * [...alphabet].length)];
    const encoded = quotedPrintable(text);
    assert.equal(decode(encoded), text.replace(/\n/g, '\r\n'));
    for (const out of encoded.split('\r\n')) assert.ok(out.length <= 76);
  }
});
