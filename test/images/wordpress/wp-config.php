<?php
/*
 * wp-config.php of bluegreen-test/wordpress (test/images/wordpress): the
 * official wordpress image's contract (its wp-config-docker.php), so the
 * module's defaults work against this stand-in: the database from
 * WORDPRESS_DB_HOST, _USER, _PASSWORD and _NAME, WORDPRESS_TABLE_PREFIX,
 * and WORDPRESS_CONFIG_EXTRA eval()'d before wp-settings.php (the wordpress
 * module sets WP_HOME and WP_SITEURL there for the site's own hosts).
 * Keys and salts are derived from the database password: both colours of a
 * site then accept the same login cookies.
 */
function getenv_docker($env, $default) {
	$v = getenv($env);
	return $v !== false ? $v : $default;
}
define('DB_NAME', getenv_docker('WORDPRESS_DB_NAME', 'wordpress'));
define('DB_USER', getenv_docker('WORDPRESS_DB_USER', 'example username'));
define('DB_PASSWORD', getenv_docker('WORDPRESS_DB_PASSWORD', 'example password'));
define('DB_HOST', getenv_docker('WORDPRESS_DB_HOST', 'mysql'));
define('DB_CHARSET', getenv_docker('WORDPRESS_DB_CHARSET', 'utf8'));
define('DB_COLLATE', getenv_docker('WORDPRESS_DB_COLLATE', ''));
foreach (array('AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT',
		'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT') as $k) {
	define($k, getenv_docker('WORDPRESS_' . $k, hash('sha256', $k . ':' . DB_PASSWORD)));
}
$table_prefix = getenv_docker('WORDPRESS_TABLE_PREFIX', 'wp_');
define('WP_DEBUG', !!getenv_docker('WORDPRESS_DEBUG', ''));
define('FS_METHOD', 'direct');
if (isset($_SERVER['HTTP_X_FORWARDED_PROTO']) && strpos($_SERVER['HTTP_X_FORWARDED_PROTO'], 'https') !== false) {
	$_SERVER['HTTPS'] = 'on';
}
if ($configExtra = getenv_docker('WORDPRESS_CONFIG_EXTRA', '')) {
	eval($configExtra);
}
if (!defined('ABSPATH')) {
	define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
