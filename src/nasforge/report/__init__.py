"""What people look at: terminal tables now; plots and HTML reports later."""
