/** The sign-in form and the error page. */
import type { UiAssets } from '../assets.ts';
import { Document, Notice } from '../layout.tsx';
import { CSRF_FIELD } from '../session.ts';

export function loginPage(props: { assets: UiAssets; nonce: string; next: string; error?: string }) {
  return (
    <Document title="Sign in" assets={props.assets}>
      <main id="main" class="login">
        <h1>Sign in to Postlane</h1>
        <p class="muted">Use an API key with the read or admin scope. A read key can look but not change anything.</p>
        {props.error && <Notice error>{props.error}</Notice>}
        <form class="stack" method="post" action="/ui/login">
          <input type="hidden" name={CSRF_FIELD} value={props.nonce} />
          <input type="hidden" name="next" value={props.next} />
          <label>
            API key
            <input type="password" name="api_key" autocomplete="current-password" required minlength={8} maxlength={200} />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </main>
    </Document>
  );
}

export function errorPage(props: { assets: UiAssets; status: number; title: string; message: string }) {
  return (
    <Document title={props.title} assets={props.assets}>
      <main id="main" class="login">
        <h1>{props.title}</h1>
        <Notice error>{props.message}</Notice>
        <p>
          <a href="/ui">Back to the overview</a>
        </p>
      </main>
    </Document>
  );
}
