/**
 * The bench's message: a realistic transactional email (order confirmation), text and HTML
 * alternatives, one recipient. Its MIME form as the edge builds it is about 2 KB (the bench
 * prints the average size the store recorded).
 */
const TEXT = [
  'Hi {{name}},',
  '',
  'Thanks for your order #{{n}}. We have received it and will let you know when it ships.',
  '',
  '  1 x Merino wool crew sweater (navy, M)      EUR 89.00',
  '  1 x Organic cotton T-shirt (white, M)       EUR 24.00',
  '  Shipping (standard, 3-5 working days)       EUR  4.90',
  '  Total                                       EUR 117.90',
  '',
  'Delivery address: 12 Example Street, 1011 AB Amsterdam, NL',
  '',
  'You can follow your order at https://shop.example/orders/{{n}}.',
  'Questions? Reply to this email or visit https://shop.example/help.',
  '',
  '-- The Example Shop team',
].join('\n');

const HTML =
  '<!doctype html><html><body style="font-family:Arial,sans-serif;color:#222">' +
  '<p>Hi {{name}},</p><p>Thanks for your order <b>#{{n}}</b>. We have received it and will let you know when it ships.</p>' +
  '<table cellpadding="4" style="border-collapse:collapse">' +
  '<tr><td>1 &times; Merino wool crew sweater (navy, M)</td><td align="right">EUR 89.00</td></tr>' +
  '<tr><td>1 &times; Organic cotton T-shirt (white, M)</td><td align="right">EUR 24.00</td></tr>' +
  '<tr><td>Shipping (standard)</td><td align="right">EUR 4.90</td></tr>' +
  '<tr><td><b>Total</b></td><td align="right"><b>EUR 117.90</b></td></tr></table>' +
  '<p><a href="https://shop.example/orders/{{n}}">Follow your order</a></p></body></html>';

export interface BenchMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  tags: Record<string, string>;
}

export function benchMessage(n: number, fromDomain: string, toDomain: string, run: string): BenchMessage {
  const name = `Customer ${n}`;
  return {
    from: `Example Shop <orders@${fromDomain}>`,
    to: `${name} <c${n}.${run}@${toDomain}>`,
    subject: `Your order #${n} is confirmed`,
    text: TEXT.replaceAll('{{name}}', name).replaceAll('{{n}}', String(n)),
    html: HTML.replaceAll('{{name}}', name).replaceAll('{{n}}', String(n)),
    tags: { kind: 'order_confirmation' },
  };
}
