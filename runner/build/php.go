package build

import (
	"context"
	"os"
	"path/filepath"
)

// PHPWeb is the web process of a PHP app without a Procfile web. Heroku's
// is heroku-php-apache2 (Apache with PHP-FPM, from its PHP buildpack),
// which dynobox does not have: PHP's built-in server, serving the app's
// root, is what runs here.
const PHPWeb = "php -S 0.0.0.0:$PORT"

// phpBuild runs composer install without dev packages, as Heroku's PHP
// buildpack does, when the app has a composer.json (an index.php alone
// needs no install).
func (b *builder) phpBuild(ctx context.Context) error {
	b.defaults = map[string]string{"web": PHPWeb}
	if !b.exists("composer.json") {
		b.out.line("-----> No composer.json: nothing to install")
		return nil
	}
	argv := []string{"composer", "install", "--no-dev", "--prefer-dist", "--optimize-autoloader", "--no-interaction"}
	s := b.step("composer install --no-dev", argv...)
	return b.fetchStep(ctx, s, "Composer downloads the packages composer.json requires (Packagist)")
}

// readApp reads the app's file rel.
func readApp(appDir, rel string) (string, error) {
	data, err := os.ReadFile(filepath.Join(appDir, rel))
	return string(data), err
}
