/**
 * WordPress's database drop-in (wp-content/db.php), written by hapress on both targets.
 *
 * Why: a change of primary ends the old primary's client sessions (the fence kills them, so that
 * clients holding a connection reconnect through `mysql-primary` to the new one). WordPress runs a
 * query again on a new connection when its session was ended ("gone away", 2006), but not when the
 * session was ended while WordPress was still opening it (its SET NAMES, its sql_mode, the choice of
 * database): the database is then never selected, every query of the page fails at once, and
 * WordPress, unable to read its options, answers its "Database Error" page (HTTP 500). Found by the
 * Kubernetes database roll test (one uncached page in about 620) and reproduced locally by killing
 * the site's sessions while pages were read (sessions killed in their SET NAMES).
 *
 * What: before a query, a connection that was opened but never became ready is opened again
 * (WordPress's own reconnect, bounded by its 5 tries).
 */
export const DB_DROPIN_FILE = "db.php";

/** In our drop-in's text: a db.php without it is the site's own, and left alone. */
export const DB_DROPIN_MARK = "Written by hapress at every start (see src/wordpress/db-dropin.ts)";

export const DB_DROPIN_PHP = `<?php
/*
 * ${DB_DROPIN_MARK}: a connection whose session
 * the server ended while it was being opened (a change of primary) is opened again.
 */
if (!defined('ABSPATH')) {
  exit;
}

class Hapress_Wpdb extends wpdb {
  public function query($query) {
    // Opened while the server ended the session: the database was never selected.
    if (!$this->ready && !empty($this->dbh)) {
      $this->check_connection(false);
    }
    return parent::query($query);
  }
}

$wpdb = new Hapress_Wpdb(DB_USER, DB_PASSWORD, DB_NAME, DB_HOST);
`;
