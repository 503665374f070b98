/**
 * WordPress's database drop-in (wp-content/db.php), written by hapress on both targets.
 *
 * Why: a change of primary ends the old primary's client sessions (the fence kills them, so that
 * clients holding a connection reconnect through `mysql-primary` to the new one). WordPress runs a
 * query again on a new connection when its session "went away" (2006), but a connection whose session
 * ended while WordPress was opening it (its SET NAMES, its sql_mode, the choice of database) is left
 * never ready, and WordPress only checks that a connection is alive: every later query fails.
 *
 * What: before a query, a connection that was opened but never became ready is opened again
 * (WordPress's own reconnect, bounded by its 5 tries).
 *
 * Not yet (README, Limits): a first connect that fails in WordPress's constructor is recorded as an
 * error there, and wp_set_wpdb_vars() answers the database error page (HTTP 500) before any query; the
 * fix to build is a bounded retry in db_connect.
 */
export const DB_DROPIN_FILE = "db.php";

/** In our drop-in's text: a db.php without it is the site's own, and left alone. */
export const DB_DROPIN_MARK = "Written by hapress at every start (see src/wordpress/db-dropin.ts)";

/** How long a request's first connection is tried again: longer than a switchover's write outage. */
export const FIRST_CONNECT_RETRY_SECONDS = 3;

export const DB_DROPIN_PHP = `<?php
/*
 * ${DB_DROPIN_MARK}: a connection whose session
 * the server ended while it was being opened (a change of primary) is opened again.
 */
if (!defined('ABSPATH')) {
  exit;
}

class Hapress_Wpdb extends wpdb {
  private $hapress_first_done = false;

  /**
   * A request's first connection, tried again for up to ${FIRST_CONNECT_RETRY_SECONDS} s: refused or cut while the primary
   * changes, WordPress records the error and answers its database error page before any query.
   */
  public function db_connect($allow_bail = true) {
    if ($this->hapress_first_done) {
      return parent::db_connect($allow_bail);
    }
    $this->hapress_first_done = true;
    $until = microtime(true) + ${FIRST_CONNECT_RETRY_SECONDS};
    while (microtime(true) < $until) {
      $this->error = null;
      if (parent::db_connect(false) && $this->ready) {
        return true;
      }
      usleep(100000);
    }
    $this->error = null;
    return parent::db_connect($allow_bail);
  }

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
