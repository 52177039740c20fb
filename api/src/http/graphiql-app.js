// The quicktakes GraphiQL page's own script (served from the server, so the
// page's Content-Security-Policy needs no 'unsafe-inline'): it starts
// GraphiQL with the README's example tabs, wires the "Forget token" button,
// and explains what to fix when GraphiQL's scripts did not load.
//
// The server fills in, on this script's own tag:
//   data-endpoint     the GraphQL HTTP endpoint, e.g. /graphql
//   data-ws-endpoint  the subscriptions endpoint, e.g. /graphql/ws
//   data-assets       where GraphiQL's files come from: embedded, cdn or dir
//
// .ci/clients/test/graphiql.test.mjs checks the page in Chromium.
(function () {
  'use strict';

  var config = document.currentScript.dataset;
  var container = document.getElementById('graphiql');

  // GraphiQL keeps its editors in localStorage: the headers (an
  // Authorization token) in `headers`, in each stored tab, and in each
  // history entry and favorite (which put them back when picked).
  var HEADERS_KEY = 'graphiql:headers';
  var TABS_KEY = 'graphiql:tabState';
  // History and favorites: `graphiql:NAME` holds {NAME: [entries]}.
  var HISTORY_LISTS = ['queries', 'favorites'];
  // Set across the reload that "Forget token" does: GraphiQL stores its
  // in-memory tabs (every tab's token) a moment after an edit, which may
  // happen after the storage was cleared and before the page goes; so the
  // stored headers are cleared again before GraphiQL starts.
  var FORGOTTEN_KEY = 'quicktakes:token-forgotten';

  function storage(kind) {
    try {
      return window[kind];
    } catch (e) {
      return null; // storage disabled: nothing stored, nothing to forget
    }
  }

  /** Sets `headers` to `empty` in each object of the list at `key`'s `listField`. */
  function scrub(local, key, listField, empty) {
    var value = null;
    try {
      value = JSON.parse(local.getItem(key));
    } catch (e) {
      local.removeItem(key); // unreadable: GraphiQL starts that part afresh
      return;
    }
    var list = value && value[listField];
    if (!Array.isArray(list)) return;
    list.forEach(function (item) {
      if (item && typeof item === 'object') {
        item.headers = empty;
      }
    });
    local.setItem(key, JSON.stringify(value));
  }

  function clearStoredHeaders() {
    var local = storage('localStorage');
    if (!local) return;
    local.removeItem(HEADERS_KEY);
    // As GraphiQL itself clears them when told not to persist headers.
    scrub(local, TABS_KEY, 'tabs', null);
    HISTORY_LISTS.forEach(function (name) {
      scrub(local, 'graphiql:' + name, name, '');
    });
  }

  // GraphiQL 3 mounts the variables editor, then the headers editor, in
  // its editor tools (the hidden one included).
  function headersEditor() {
    var editors = document.querySelectorAll('.graphiql-editor-tool .graphiql-editor');
    var el = editors.length > 1 ? editors[1].querySelector('.CodeMirror') : null;
    return el && el.CodeMirror;
  }

  function forgetToken() {
    var editor = headersEditor();
    if (editor) {
      editor.setValue('');
    }
    clearStoredHeaders();
    var session = storage('sessionStorage');
    if (session) {
      session.setItem(FORGOTTEN_KEY, '1');
    }
    // GraphiQL holds every tab's headers in memory too: only a restart
    // from the cleared storage is sure to send no Authorization any more.
    window.location.reload();
  }

  var session = storage('sessionStorage');
  var status = document.getElementById('qt-token-status');
  if (session && session.getItem(FORGOTTEN_KEY)) {
    session.removeItem(FORGOTTEN_KEY);
    clearStoredHeaders();
    if (status) {
      status.textContent = 'Token forgotten: requests from this page carry no Authorization header now.';
    }
  }
  var forget = document.getElementById('qt-forget-token');
  if (forget) {
    forget.addEventListener('click', forgetToken);
  }

  if (
    typeof window.React === 'undefined' ||
    typeof window.ReactDOM === 'undefined' ||
    typeof window.GraphiQL === 'undefined'
  ) {
    var reason = {
      embedded: [
        'GraphiQL could not be loaded: its scripts (React, ReactDOM, GraphiQL) failed to load ' +
          'from this server, which has them built in.',
        'Reload this page: one kept from before the server was upgraded names files the server ' +
          'no longer has. If that does not help, something between this browser and the server ' +
          '(a proxy, a browser extension) blocks or alters /graphiql/static/.',
      ],
      cdn: [
        'GraphiQL could not be loaded: its scripts (React, ReactDOM, GraphiQL) failed to load ' +
          'from the CDN (jsDelivr), which this browser could not reach.',
        'The server has them built in and serves them itself unless told otherwise: restart it ' +
          'without --graphiql-cdn (and without QUICKTAKES_GRAPHIQL_CDN), in its default embedded ' +
          'mode, and reload this page.',
      ],
      dir: [
        'GraphiQL could not be loaded: its scripts (React, ReactDOM, GraphiQL) failed to load ' +
          "from the server's --graphiql-assets folder.",
        'That folder lacks them or holds other versions than this page pins (the integrity ' +
          "check refuses them). On the server's machine, refill it with",
        '    .ci/graphiql-assets.sh DIR',
        '(it uses only npm), or restart the server without --graphiql-assets to use the copies ' +
          'built into it; then reload this page.',
      ],
    }[config.assets] || ['GraphiQL could not be loaded: its scripts failed to load.'];
    var note = document.getElementById('graphiql-loading') || container;
    note.textContent = reason.join('\n');
    note.className = 'qt-error';
    return;
  }

  // Absolute http(s) URL of the GraphQL endpoint, resolved against this page.
  var endpoint = new URL(config.endpoint, window.location.href);

  // ws:// or wss:// URL of the subscriptions endpoint, matching this page's scheme.
  var wsEndpoint = new URL(config.wsEndpoint, window.location.href);
  if (wsEndpoint.protocol === 'https:') {
    wsEndpoint.protocol = 'wss:';
  } else if (wsEndpoint.protocol === 'http:') {
    wsEndpoint.protocol = 'ws:';
  }

  var fetcher = GraphiQL.createFetcher({
    url: endpoint.toString(),
    subscriptionUrl: wsEndpoint.toString(),
  });

  // The README's article page query, as a frontend sends it.
  var articlePage = [
    '# Welcome to the quicktakes GraphQL playground.',
    '#',
    '# This is the query an article page sends. Run it with Ctrl-Enter',
    '# (Cmd-Enter on macOS) or the run button; change the slug in the',
    '# Variables pane below; the Docs button on the left describes every',
    '# type and field.',
    '#',
    '# Reading needs no token; editing does (the AdjustScore tab). An',
    '# editor token comes from `quicktakes token create --name NAME --role editor`',
    "# on the server; it goes in a tab's Headers pane, below, as",
    '#   {"Authorization": "Bearer qt_…"}',
    '',
    'query ArticlePage($slug: String!) {',
    '  article(slug: $slug) {  # or (id: "118109") or (url: "/learn/…"); old slugs and urls still work',
    '    id title articleTitle question answerHtml',
    '    postOnText displayDate author score version',
    '    subject { id name slug }',
    '    seo { title description keywords }',
    '    related {',
    '      position targetId title url',
    '      subject { id name slug }',
    '      article { id excerpt(length: 120) subject { id name } }  # null until the target is loaded',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  var articlePageVariables = JSON.stringify(
    { slug: 'what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients' },
    null,
    2
  );

  var adjustScore = [
    '# An edit: adds `delta` to the article\'s score (atomically; no',
    '# expectedVersion needed) and records a revision with the note.',
    '#',
    '# Mutations need an editor token. On the server run',
    '#   quicktakes token create --name NAME --role editor',
    '# and put the secret it prints last in this tab\'s Headers pane, below:',
    '#   {"Authorization": "Bearer qt_…"}',
    '# Without it the answer is UNAUTHENTICATED. The browser keeps the',
    '# token until "Forget token" (top right) removes it.',
    '',
    'mutation AdjustScore($id: ID!, $delta: Float!) {',
    '  adjustScore(id: $id, delta: $delta, note: "tried in GraphiQL") {',
    '    id',
    '    version',
    '    score',
    '  }',
    '}',
    '',
  ].join('\n');
  var adjustScoreVariables = JSON.stringify({ id: '118109', delta: 0.5 }, null, 2);

  var props = {
    fetcher: fetcher,
    defaultQuery: articlePage,
    defaultTabs: [
      { query: articlePage, variables: articlePageVariables },
      { query: adjustScore, variables: adjustScoreVariables },
    ],
    defaultEditorToolsVisibility: 'variables',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  };

  // A link may carry a query to open: /graphiql?query=...&variables=...
  // (URL-encoded). GraphiQL then opens it in the editor: in a new tab
  // beside the stored ones, or in the stored tab that already holds it.
  // Headers are never taken from the URL: a link must not be able to
  // set an Authorization header.
  var params = new URLSearchParams(window.location.search);
  var linkedQuery = params.get('query');
  if (linkedQuery !== null) {
    var linkedVariables = params.get('variables') || '';
    props.query = linkedQuery;
    props.variables = linkedVariables;
    props.defaultTabs = [{ query: linkedQuery, variables: linkedVariables }];
  } else {
    // GraphiQL 3.x fills the variables editor from the `variables` prop
    // or the value it stored on the last edit of the variables, never
    // from its stored tabs; and it opens a new tab when no stored tab
    // holds the query and variables it starts with. So pass the
    // variables of the tab that was active (none edited since a first
    // visit or a link leaves nothing else to find them by), or the
    // first default tab's on a first visit.
    var tabs = null;
    try {
      tabs = JSON.parse(storage('localStorage').getItem(TABS_KEY));
    } catch (e) {
      // storage unavailable or unreadable: GraphiQL then starts afresh
    }
    var active = tabs && tabs.tabs && tabs.tabs[tabs.activeTabIndex];
    props.variables = active ? active.variables || '' : articlePageVariables;
  }

  ReactDOM.createRoot(container).render(React.createElement(GraphiQL, props));
})();
