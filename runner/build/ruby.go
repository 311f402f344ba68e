package build

import "context"

// rubyManifests are what bundle install depends on.
var rubyManifests = []string{"Gemfile", "Gemfile.lock"}

// rubyBuild runs bundle install when the Gemfile or Gemfile.lock changed
// since the last successful install. Gems go where the app's Bundler config
// says, as with a bundle install by hand.
//
// A slug build installs them into the slug instead (rubySlugBuild).
func (b *builder) rubyBuild(ctx context.Context) error {
	if b.slug {
		return b.rubySlugBuild(ctx)
	}
	stamp := b.stampOf([]string{"bundle"}, rubyManifests...)
	if b.stampMatches(Ruby, stamp) {
		b.out.line("-----> Gemfile.lock unchanged: skipping bundle install")
		return nil
	}
	if err := b.exec(ctx, b.step("bundle install", "bundle", "install")); err != nil {
		return err
	}
	// bundle install writes Gemfile.lock when it resolves anew.
	return b.saveStamp(Ruby, b.stampOf([]string{"bundle"}, rubyManifests...))
}
